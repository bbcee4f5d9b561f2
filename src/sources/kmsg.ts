// `kmsg`: the kernel's log records from /dev/kmsg. Each read() returns one
// record `PRI,SEQ,TS,FLAGS;MESSAGE\n` (then ` KEY=VALUE` dictionary lines).
// Only facility 0 is the kernel: userspace writes to /dev/kmsg are forced to
// facility 1 (user), so a forged line never passes.
//
// /dev/kmsg is read non-blocking and polled when drained: Node cannot wait
// for it with epoll, and a blocking read would hold a thread-pool thread
// that stop() cannot take back. An inherited descriptor must be O_NONBLOCK too.

import { close, constants, open, read } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { Retry } from './retry.js';
import { Checkpoint, checkpointPath } from './checkpoint.js';
import { DEFAULT_RETRY, type Source, type SourceOptions } from './source.js';

export const KMSG = '/dev/kmsg';
// Waits between reads once all records are read: the latency a new record can
// have. Short right after a record (the next knock of a sequence follows within
// milliseconds), doubling while idle: each wake-up costs CPU (a 20 ms poll
// measured 3.6% of a core here, 100 ms about 1%).
const POLL_MIN_MS = 10;
const POLL_MAX_MS = 100;
/** Larger than the longest record (the kernel refuses reads shorter than 8 KiB with EINVAL). */
const RECORD_MAX = 16384;
const BATCH_MAX = 256;
const HEADER = /^(\d{1,3}),(\d{1,20}),/;

interface SavedSeq {
  bootId: string;
  seq: number;
}

function isSavedSeq(v: unknown): v is SavedSeq {
  const s = v as SavedSeq;
  return typeof s === 'object' && s !== null && typeof s.bootId === 'string' && Number.isSafeInteger(s.seq);
}

/** Record sequence numbers restart at boot: a saved one is only valid with the same boot id. */
async function bootId(): Promise<string> {
  return (await readFile('/proc/sys/kernel/random/boot_id', 'utf8').catch(() => '')).trim();
}

function openKmsg(): Promise<number> {
  return new Promise((resolve, reject) =>
    open(KMSG, constants.O_RDONLY | constants.O_NONBLOCK, (e, fd) => (e ? reject(e) : resolve(fd))),
  );
}

function readRecord(fd: number, buf: Buffer): Promise<number> {
  return new Promise((resolve, reject) => read(fd, buf, 0, buf.length, null, (e, n) => (e ? reject(e) : resolve(n))));
}

function describe(e: NodeJS.ErrnoException): string {
  if (e.code === 'EACCES' || e.code === 'EPERM') {
    return (
      `cannot read ${KMSG}: permission denied ` +
      '(it needs root or CAP_SYSLOG; knocklog run opens it before dropping privileges)'
    );
  }
  return `cannot read ${KMSG}: ${e.message}`;
}

export class KmsgSource implements Source {
  readonly name = 'kmsg';
  private readonly retry: Retry;
  private readonly checkpoint: Checkpoint<SavedSeq>;
  private bootId = '';
  /** Sequence number of the last record read (handed on or not), or null before any. */
  private lastSeq: number | null = null;
  private overwritten = 0;
  private running: Promise<void> = Promise.resolve();

  constructor(private readonly opts: SourceOptions) {
    this.retry = new Retry(this.name, opts.retry ?? DEFAULT_RETRY, opts.log);
    const file = opts.stateDir === null ? null : checkpointPath(opts.stateDir, this.name);
    this.checkpoint = new Checkpoint(file, isSavedSeq, () => ({ bootId: this.bootId, seq: this.lastSeq! }), opts.log);
  }

  start(onLines: (lines: string[]) => void): void {
    this.running = this.run(onLines);
  }

  async stop(): Promise<void> {
    this.retry.stop();
    await this.running;
    if (this.lastSeq !== null) await this.checkpoint.flush();
  }

  private async run(onLines: (lines: string[]) => void): Promise<void> {
    const [saved, boot] = await Promise.all([this.checkpoint.load(), bootId()]);
    this.bootId = boot;
    if (saved !== null && boot !== '' && saved.bootId === boot) this.lastSeq = saved.seq;
    const inherited = this.opts.kmsgFd;
    while (!this.retry.stopped) {
      let fd: number | null = inherited ?? null;
      try {
        fd ??= await openKmsg();
        await this.readAll(fd, onLines);
      } catch (e) {
        await this.retry.failed(describe(e as NodeJS.ErrnoException));
      } finally {
        // An inherited descriptor is never closed: it cannot be opened again.
        if (fd !== null && fd !== inherited) close(fd, () => {});
      }
    }
  }

  /**
   * Reads records until stop() or an error. Records already there at the first open are older than the start:
   * skipped, unless resuming after a saved sequence number.
   */
  private async readAll(fd: number, onLines: (lines: string[]) => void): Promise<void> {
    const buf = Buffer.alloc(RECORD_MAX);
    const after = this.lastSeq;
    let backlog = true;
    let skipped = 0;
    let poll = POLL_MIN_MS;
    let batch: string[] = [];
    while (!this.retry.stopped) {
      let n: number;
      try {
        n = await readRecord(fd, buf);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'EPIPE') {
          // Records were overwritten before they were read; the next read returns the oldest left.
          this.overwritten++;
          continue;
        }
        if (code !== 'EAGAIN') throw e;
        n = 0;
      }
      if (n === 0) {
        if (backlog && after === null) this.opts.log.info(`kmsg: skipped ${skipped} older records; reading new ones`);
        backlog = false;
        if (batch.length > 0) onLines(batch);
        batch = [];
        this.reportOverwritten();
        await this.retry.pause(poll);
        poll = Math.min(poll * 2, POLL_MAX_MS);
        continue;
      }
      poll = POLL_MIN_MS;
      this.retry.worked();
      const nl = buf.indexOf(10);
      const line = buf.toString('utf8', 0, nl === -1 || nl > n ? n : nl);
      const h = HEADER.exec(line);
      if (h === null) continue;
      const seq = Number(h[2]);
      this.lastSeq = seq;
      this.checkpoint.changed();
      const fresh = after !== null ? seq > after : !backlog;
      if (!fresh) skipped++;
      if (!fresh || Number(h[1]) >> 3 !== 0) continue;
      batch.push(line);
      if (batch.length >= BATCH_MAX) {
        onLines(batch);
        batch = [];
      }
    }
    if (batch.length > 0) onLines(batch);
  }

  private reportOverwritten(): void {
    if (this.overwritten === 0) return;
    this.opts.log.warn(
      `kmsg: ${this.overwritten} times kernel records were overwritten in the ring buffer before knocklog read them ` +
        '(a burst of kernel messages); knocks among them are lost',
    );
    this.overwritten = 0;
  }
}
