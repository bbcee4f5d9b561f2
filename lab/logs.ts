// Where a lab's firewall records can be read back: /dev/kmsg, and files that
// rsyslog or ulogd2 write. Each source yields only the lab's own records (its
// unique prefix), so labs running at the same time do not see each other's.

import { closeSync, constants, existsSync, openSync, readFileSync, readSync } from 'node:fs';
import { hostname } from 'node:os';
import type { Format } from '../src/parse/index.js';
import { waitFor } from './proc.js';

export interface LabLog {
  readonly name: string;
  /** What `knocklog parse --format` calls these lines. */
  readonly format: Exclude<Format, 'auto'>;
  /** The lab's records so far, oldest first, one line each. */
  lines(): string[];
}

/** Waits until `log` holds at least `count` of the lab's records, and returns them all. */
export function waitForLines(log: LabLog, count: number, timeoutMs = 10_000): Promise<string[]> {
  return waitFor(
    `${count} records in ${log.name}`,
    () => {
      const l = log.lines();
      return l.length >= count ? l : undefined;
    },
    { timeoutMs, describe: () => `it has ${log.lines().length}:\n${log.lines().join('\n')}` },
  );
}

/**
 * What `journalctl -o json` prints for a /dev/kmsg record `PRI,SEQ,USEC,FLAGS;MESSAGE`
 * journald has just read: `_TRANSPORT=kernel`, the record's own time in
 * `_SOURCE_MONOTONIC_TIMESTAMP`, journald's receive times in `__REALTIME_` and
 * `__MONOTONIC_TIMESTAMP` (microseconds, as strings).
 */
export function journalRecord(kmsgRecord: string): string {
  const m = /^(\d+),(\d+),(\d+),[^;]*;(.*)$/.exec(kmsgRecord);
  if (m === null) throw new Error(`not a /dev/kmsg record: ${kmsgRecord}`);
  const pri = Number(m[1]);
  return JSON.stringify({
    __REALTIME_TIMESTAMP: String(BigInt(Date.now()) * 1000n),
    __MONOTONIC_TIMESTAMP: String(process.hrtime.bigint() / 1000n),
    _TRANSPORT: 'kernel',
    PRIORITY: String(pri & 7),
    SYSLOG_FACILITY: String(pri >> 3),
    SYSLOG_IDENTIFIER: 'kernel',
    _SOURCE_MONOTONIC_TIMESTAMP: m[3],
    _HOSTNAME: hostname(),
    MESSAGE: m[4],
  });
}

/** A text line of the lab: the kernel LOG target and ulogd2's LOGEMU put the prefix before `IN=`. */
export const textMatcher = (prefix: string) => (line: string) => line.includes(`${prefix} IN=`);

/** A ulogd2 JSON object of the lab. */
export const jsonMatcher = (prefix: string) => (line: string) => line.includes(`"oob.prefix": "${prefix}"`);

/** The matching lines of a file that a daemon appends to (none while it does not exist). */
export function fileLog(
  name: string,
  path: string,
  format: LabLog['format'],
  match: (line: string) => boolean,
): LabLog & { path: string } {
  return {
    name,
    path,
    format,
    lines: () => (existsSync(path) ? readFileSync(path, 'utf8').split('\n').filter(match) : []),
  };
}

/**
 * The kernel's ring buffer through /dev/kmsg: each read() returns one record,
 * `PRI,SEQ,USEC,FLAGS;MESSAGE` then optional ` KEY=VALUE` lines. Every opener
 * gets its own position, so this never takes lines from rsyslog or journald.
 * Non-blocking: a read with nothing new fails with EAGAIN instead of parking
 * a libuv thread that would keep the test process alive.
 */
export class KmsgLog implements LabLog {
  readonly name = '/dev/kmsg';
  readonly format = 'kernel' as const;
  private fd: number | null;
  private readonly kept: string[] = [];
  private readonly buf = Buffer.alloc(16 * 1024);

  constructor(private readonly match: (line: string) => boolean) {
    this.fd = openSync('/dev/kmsg', constants.O_RDONLY | constants.O_NONBLOCK);
  }

  lines(): string[] {
    this.drain();
    return [...this.kept];
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }

  private drain(): void {
    if (this.fd === null) return;
    for (;;) {
      let n: number;
      try {
        n = readSync(this.fd, this.buf, 0, this.buf.length, null);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'EAGAIN') return;
        if (code === 'EPIPE') continue; // records we had not read yet were overwritten; go on with the next
        throw e;
      }
      if (n === 0) return;
      const rec = this.buf.toString('utf8', 0, n);
      const nl = rec.indexOf('\n');
      const first = nl === -1 ? rec : rec.slice(0, nl);
      if (this.match(first)) this.kept.push(first);
    }
  }
}
