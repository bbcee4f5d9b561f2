// `file:PATH`: follow a log file with tail-file (inotify: a line is seen
// within a millisecond of its write) across rotation, truncation, deletion
// and restarts. docs/architecture.md, "Tailing files", lists the pitfalls handled here.

import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import Tail from 'tail-file';
import { Retry } from './retry.js';
import { Checkpoint, checkpointPath } from './checkpoint.js';
import { LineCarry, splitLines } from './lines.js';
import { planStart, type FilePosition } from './file-start.js';
import { allFacilityWarning, ForeignLineCheck } from './provenance.js';
import { DEFAULT_RETRY, type Source, type SourceOptions } from './source.js';

/** Bytes per read (tail-file's default, 4 KiB, costs a read and an event-loop turn per few lines). */
const READ_SIZE = 1 << 16;

interface SavedPosition extends FilePosition {
  path: string;
}

function isSavedPosition(v: unknown): v is SavedPosition {
  const p = v as SavedPosition;
  return (
    typeof p === 'object' && p !== null && typeof p.path === 'string' &&
    (p.ino === null || Number.isSafeInteger(p.ino)) && Number.isSafeInteger(p.offset) && p.offset >= 0
  );
}

/** What went wrong and what to do, for errors other than a missing file. */
function describe(err: NodeJS.ErrnoException): string {
  const what = err.path ?? 'the file';
  if (err.syscall === 'watch') {
    if (err.code === 'ENOSPC') {
      return (
        `cannot watch ${what} for changes: the inotify watch limit is reached ` +
        '(raise the sysctl fs.inotify.max_user_watches)'
      );
    }
    if (err.code === 'EMFILE') {
      return (
        `cannot watch ${what} for changes: the inotify instance limit is reached ` +
        '(raise the sysctl fs.inotify.max_user_instances)'
      );
    }
    if (err.code === 'ENOENT') return `the directory ${what} does not exist (create it, or fix the source's path)`;
  }
  if (err.code === 'EACCES' || err.code === 'EPERM') {
    return (
      `cannot read ${what}: permission denied ` +
      '(give the user knocklog runs as read access, e.g. the adm group on Debian)'
    );
  }
  return err.message;
}

export class FileSource implements Source {
  readonly name: string;
  private tail: Tail | null = null;
  private onLines: (lines: string[]) => void = () => {};
  private opening: Promise<void> = Promise.resolve();
  private readonly retry: Retry;
  private readonly checkpoint: Checkpoint<SavedPosition>;
  private readonly foreign: ForeignLineCheck;
  /** The last complete line handed on (or where reading started): what is saved and resumed from. */
  private position: FilePosition | null = null;
  /** Byte offset after the last byte tail-file handed over from the file it reads now. */
  private readOffset = 0;
  /** The partial line after the last whole one: the file is cut into lines here, not by tail-file (see open). */
  private carry = new LineCarry();
  private missingReported = false;

  constructor(
    private readonly path: string,
    private readonly opts: SourceOptions,
    /** `ulogd`: a dedicated ulogd2 LOGEMU/JSON file rather than kernel lines (the parser is told so by the name). */
    kind: 'file' | 'ulogd' = 'file',
  ) {
    this.name = `${kind}:${path}`;
    this.retry = new Retry(this.name, opts.retry ?? DEFAULT_RETRY, opts.log);
    const file = opts.stateDir === null ? null : checkpointPath(opts.stateDir, this.name);
    this.checkpoint = new Checkpoint(file, isSavedPosition, () => ({ path, ...this.position! }), opts.log);
    this.foreign = new ForeignLineCheck(this.name, opts.log);
  }

  start(onLines: (lines: string[]) => void): void {
    this.onLines = onLines;
    const warning = allFacilityWarning(this.path);
    if (warning !== null) this.opts.log.warn(warning);
    this.opening = this.load().then(() => this.open());
  }

  async stop(): Promise<void> {
    this.retry.stop();
    await this.opening;
    await this.discard();
    if (this.position !== null) await this.checkpoint.flush();
  }

  private async load(): Promise<void> {
    const saved = await this.checkpoint.load();
    if (saved !== null && saved.path === this.path) this.position = { ino: saved.ino, offset: saved.offset };
  }

  /** Builds a tailer from the current position (at start, and after an error). */
  private async open(): Promise<void> {
    let plan;
    try {
      plan = await planStart(this.path, this.position);
    } catch (e) {
      this.fail(e as NodeJS.ErrnoException);
      return;
    }
    if (this.retry.stopped) return;
    if (plan.note !== null) this.opts.log.warn(`${this.name}: ${plan.note}`);
    this.position = plan.position;
    if (plan.position.ino !== null) {
      this.opts.log.info(`${this.name}: reading ${plan.file} from byte ${plan.position.offset}`);
    }
    // Saved at once, not within the second: a reader killed before its first
    // periodic save would otherwise start again at the then end, skipping lines.
    this.checkpoint.changed();
    void this.checkpoint.flush();
    this.readOffset = plan.position.offset;
    this.carry = new LineCarry();
    const source = this;
    const tail = new Tail(this.path, {
      force: true, // keep waiting for a missing file, and read it from its start when it appears
      secondary: `${this.path}.1`, // never a compressed `.1.gz`
      startPos: plan.position.offset,
      _bufsize: READ_SIZE,
      // The bytes read, cut into lines here: tail-file's own cutting searches its whole
      // buffer again after each read and keeps a line however long (minutes for a 100 MB
      // line), and hands over one line per event-loop turn.
      decode(chunk) {
        if (chunk === null) {
          this.onEndOfFile();
          return;
        }
        source.onBytes(this, chunk);
        this.readStuff();
      },
      // A byte offset: seek there instead of reading the file from byte 0 and skipping lines.
      setCharPos(pos) {
        this.setBytePos(pos);
      },
      // fs.watch throws (inotify limits, missing directory) outside any handler; a
      // discarded tailer must not start watching again (a restart in flight).
      startTail(filename) {
        if (source.tail !== this) return;
        try {
          Tail.prototype.startTail.call(this, filename);
        } catch (e) {
          this.onError(e);
        }
      },
    });
    tail.on('error', (e) => this.onError(tail, e));
    tail.on('restart', (r) => this.onRestart(tail, r));
    this.tail = tail;
    tail.start(plan.file);
  }

  /** Bytes read by tail-file (in its buffer, reused for the next read): the whole lines among them go on. */
  private onBytes(tail: Tail, chunk: Buffer): void {
    if (tail !== this.tail) return;
    this.readOffset += chunk.length;
    const pending = this.carry.pending;
    const buf = Buffer.allocUnsafe((pending?.length ?? 0) + chunk.length);
    pending?.copy(buf);
    chunk.copy(buf, pending?.length ?? 0);
    const lines = this.carry.take(buf, pending?.length ?? 0, buf.length);
    if (lines === null) return;
    // The whole lines end in this read: what follows them there is the partial line.
    const partial = buf.byteOffset + buf.length - (lines.byteOffset + lines.length);
    this.position = { ino: tail.ino, offset: this.readOffset - partial };
    this.checkpoint.changed();
    this.missingReported = false;
    this.retry.worked();
    this.deliver(splitLines(lines));
  }

  /** Lines decoded (UTF-8), checked for their provenance and handed on. */
  private deliver(lines: string[]): void {
    for (const text of lines) this.foreign.check(text);
    this.onLines(lines);
  }

  /**
   * When tail-file switches to the new file, lines written to the old one
   * just before the rename can still be unread (seen under load: a knock
   * written, the file renamed, the next knock appended to the old file). They
   * are read from the rotated `PATH.1`, from the last position handed on,
   * before any line of the new file.
   */
  private finishRotated(old: FilePosition): void {
    let fd: number;
    try {
      fd = openSync(`${this.path}.1`, 'r');
    } catch {
      return;
    }
    try {
      const st = fstatSync(fd);
      if (st.ino !== old.ino || st.size <= old.offset) return;
      const buf = Buffer.alloc(st.size - old.offset);
      const n = readSync(fd, buf, 0, buf.length, old.offset);
      const end = buf.subarray(0, n).lastIndexOf(10);
      if (end < 0) return;
      const lines = splitLines(buf.subarray(0, end + 1));
      this.opts.log.info(`${this.name}: read ${lines.length} line(s) left in the rotated ${this.path}.1`);
      this.deliver(lines);
    } finally {
      closeSync(fd);
    }
  }

  private onRestart(tail: Tail, reason: string): void {
    if (tail !== this.tail) return;
    // tail-file reads the new or truncated file from byte 0. The saved position
    // stays on the old file until a line of the new one is handed on.
    this.readOffset = 0;
    this.carry = new LineCarry();
    const log = this.opts.log;
    if (reason === 'TRUNCATE') {
      this.position = { ino: tail.ino, offset: 0 };
      this.checkpoint.changed();
      log.info(
        `${this.name}: the file was truncated (copytruncate?): reading it from its start; ` +
          'lines written during the truncation are lost ' +
          "(prefer logrotate's create and the logger's reopen signal)",
      );
    } else if (reason === 'NEWPRIME') {
      if (this.position !== null && this.position.ino !== null) this.finishRotated(this.position);
      log.info(`${this.name}: the file was replaced (rotated): reading the new file from its start`);
    } else {
      log.info(`${this.name}: the file appeared: reading it from its start`);
    }
  }

  private onError(tail: Tail, err: NodeJS.ErrnoException): void {
    if (tail !== this.tail || this.retry.stopped) return;
    const missing = err.code === 'ENOENT' && (err.syscall === 'stat' || err.syscall === 'open') &&
      (err.path === this.path || err.path === `${this.path}.1`);
    if (missing) {
      // tail-file (force) watches the directory and reads the file from its start once it exists.
      if (!this.missingReported) {
        this.opts.log.warn(`${this.name}: ${this.path} does not exist: waiting for it to be created`);
      }
      this.missingReported = true;
      return;
    }
    this.fail(err);
  }

  /**
   * After an error tail-file would re-read the whole file on the next directory event: rebuild it from the
   * position instead.
   */
  private fail(err: NodeJS.ErrnoException): void {
    void this.discard();
    this.opening = this.retry
      .failed(describe(err), ' from the last position')
      .then((again) => (again ? this.open() : undefined));
  }

  private async discard(): Promise<void> {
    const tail = this.tail;
    if (tail === null) return;
    this.tail = null;
    // After an error in a start, tail-file's stop() would wait for that start forever;
    // with this.tail changed, the start cannot begin watching again (see startTail).
    tail.starting = null;
    await tail.stop().catch(() => {});
  }
}

