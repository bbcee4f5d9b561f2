// `ulogd-socket:PATH`: ulogd2's JSON output plugin (`mode="unix"`) connects to
// a Unix stream socket that this source listens on, and writes one JSON record
// per line. Nothing is written to disk and no log budget is shared, so a flood
// costs CPU, not disk, and cannot spend anyone else's budget.
//
// Who may connect decides who may forge knocks, so the socket is created
// under a temporary name, given its mode, and only then renamed to PATH: mode
// 0600 (the reader's own user, and root), or 0660 when PATH's directory is
// set-group-ID, whose group the admin chose for ulogd2 (files made in such a
// directory take its group). Measured with ulogd 2.0.8: ulogd2 connects at its
// start (and drops the stack when nothing listens), reconnects by itself after
// a failed send, losing that one record, and reconnects at once on SIGHUP.
//
// Memory stays bounded: each connection is read as an async stream, one chunk
// at a time, and its lines are handled before the next chunk is asked for. When
// knocklog falls behind, the stream stops reading, the kernel's socket buffer
// fills, ulogd2 blocks in send() and stops reading NFLOG, and the kernel drops
// packets there. Nothing queues in knocklog but an unfinished line, capped.

import { chmod, rename, stat, unlink } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { dirname } from 'node:path';
import { Retry } from './retry.js';
import { MAX_LINE } from '../parse/index.js';
import { splitLines } from './lines.js';
import { DEFAULT_RETRY, type Source, type SourceOptions } from './source.js';

/** sun_path holds 108 bytes with the NUL; the temporary name adds one. */
export const MAX_SOCKET_PATH = 106;
/** ulogd2 opens one connection per JSON stack; more are refused. */
const MAX_CONNECTIONS = 8;

/**
 * Cuts a byte stream into lines, holding at most `max` bytes of an unfinished
 * line: a longer one is dropped whole (and counted), up to its newline.
 */
export class LineSplitter {
  private carry: Buffer | null = null;
  private skipping = false;
  dropped = 0;

  constructor(private readonly max: number = MAX_LINE) {}

  push(chunk: Buffer): string[] {
    const end = chunk.lastIndexOf(10);
    if (end < 0) {
      this.hold(chunk);
      return [];
    }
    let head = chunk.subarray(0, end + 1);
    if (this.skipping) {
      head = head.subarray(head.indexOf(10) + 1);
      this.skipping = false;
    } else if (this.carry !== null) {
      head = Buffer.concat([this.carry, head]);
    }
    this.carry = null;
    const lines = splitLines(head);
    this.hold(chunk.subarray(end + 1));
    return lines;
  }

  private hold(rest: Buffer): void {
    if (rest.length === 0 || this.skipping) return;
    const have = this.carry?.length ?? 0;
    if (have + rest.length > this.max) {
      this.carry = null;
      this.skipping = true;
      this.dropped++;
      return;
    }
    // A copy: a slice would keep the whole chunk alive.
    this.carry = Buffer.concat(this.carry === null ? [rest] : [this.carry, rest]);
  }
}

function describe(path: string, e: NodeJS.ErrnoException): string {
  const dir = dirname(path);
  const make = `e.g. install -d -m 2750 -o knocklog -g ulog ${dir} (see "ulogd-socket" in the README)`;
  if (e.code === 'ENOENT') {
    return `cannot create the socket ${path}: the directory ${dir} does not exist (create it, ${make})`;
  }
  if (e.code === 'EACCES' || e.code === 'EPERM') {
    return `cannot create the socket ${path}: permission denied (the user the reader runs as must own ${dir}, ${make})`;
  }
  return `cannot listen on ${path}: ${e.message}`;
}

export class UlogdSocketSource implements Source {
  readonly name: string;
  private server: Server | null = null;
  private readonly connections = new Set<Socket>();
  private readonly reading = new Set<Promise<void>>();
  private onLines: (lines: string[]) => void = () => {};
  private opening: Promise<void> = Promise.resolve();
  private readonly retry: Retry;
  /** Set once the socket has its mode: connections from before are refused. */
  private accepting = false;
  /** The inode of the socket we made: stop() removes PATH only while it is still ours. */
  private ino: number | null = null;

  constructor(
    private readonly path: string,
    private readonly opts: SourceOptions,
  ) {
    this.name = `ulogd-socket:${path}`;
    this.retry = new Retry(this.name, opts.retry ?? DEFAULT_RETRY, opts.log);
  }

  start(onLines: (lines: string[]) => void): void {
    this.onLines = onLines;
    this.opening = this.listen();
  }

  async stop(): Promise<void> {
    this.retry.stop();
    await this.opening;
    for (const c of this.connections) c.destroy();
    await Promise.all(this.reading);
    const server = this.server;
    this.server = null;
    if (server !== null) await new Promise<void>((resolve) => server.close(() => resolve()));
    if (this.ino !== null && (await stat(this.path).catch(() => null))?.ino === this.ino) {
      await unlink(this.path).catch(() => undefined);
    }
  }

  private async listen(): Promise<void> {
    const temp = `${this.path}~`;
    this.accepting = false;
    const server = createServer({ pauseOnConnect: true }, (c) => this.accept(c));
    server.maxConnections = MAX_CONNECTIONS;
    try {
      if (Buffer.byteLength(this.path) > MAX_SOCKET_PATH) {
        const bytes = Buffer.byteLength(this.path);
        throw new Error(`the path is ${bytes} bytes; a Unix socket path may have at most ${MAX_SOCKET_PATH} `
          + '(choose a shorter one)');
      }
      const shared = ((await stat(dirname(this.path))).mode & 0o2000) !== 0;
      await unlink(temp).catch(() => undefined); // left by a reader killed between listen and rename
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(temp, () => {
          server.off('error', reject);
          resolve();
        });
      });
      const mode = shared ? 0o660 : 0o600;
      await chmod(temp, mode);
      this.accepting = true;
      await rename(temp, this.path);
      const st = await stat(this.path);
      this.ino = st.ino;
      this.server = server;
      server.on('error', (e) => this.opts.log.error(`${this.name}: ${e.message}`));
      if (this.retry.stopped) return;
      this.retry.worked();
      const who = shared ? `uid ${st.uid} and group ${st.gid}` : `uid ${st.uid}`;
      this.opts.log.info(`${this.name}: listening (mode 0${mode.toString(8)}: ${who} and root may connect)`);
    } catch (e) {
      server.close();
      await unlink(temp).catch(() => undefined);
      const err = e as NodeJS.ErrnoException;
      const what = err.code === undefined ? `cannot listen on ${this.path}: ${err.message}` : describe(this.path, err);
      this.opening = this.retry.failed(what).then((again) => (again ? this.listen() : undefined));
    }
  }

  private accept(conn: Socket): void {
    // Before its mode is set, the socket may have let anyone connect (under the temporary name).
    if (this.retry.stopped || !this.accepting) {
      conn.destroy();
      return;
    }
    this.connections.add(conn);
    this.opts.log.info(`${this.name}: ulogd2 connected`);
    const done = this.read(conn).finally(() => {
      this.connections.delete(conn);
      this.reading.delete(done);
    });
    this.reading.add(done);
  }

  /** One connection's lines, a chunk at a time (the stream reads the next chunk only when asked). */
  private async read(conn: Socket): Promise<void> {
    const split = new LineSplitter();
    let reported = 0;
    try {
      for await (const chunk of conn as AsyncIterable<Buffer>) {
        const lines = split.push(chunk);
        if (lines.length > 0) this.onLines(lines);
        if (split.dropped > reported) {
          reported = split.dropped;
          this.opts.log.warn(`${this.name}: dropped a line longer than ${MAX_LINE} bytes (not a ulogd2 JSON record)`);
        }
      }
    } catch (e) {
      if (!this.retry.stopped) this.opts.log.warn(`${this.name}: connection failed: ${(e as Error).message}`);
    }
    if (!this.retry.stopped) {
      const how = 'it reconnects at its next record, which is lost, or at once on SIGHUP';
      this.opts.log.info(`${this.name}: ulogd2 disconnected (${how})`);
    }
  }
}
