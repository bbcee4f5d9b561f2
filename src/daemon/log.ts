// The daemon's log: pino JSON on stdout (human lines with -v on a terminal),
// plus knockd's LogFile and UseSyslog. Messages keep knockd's texts
// (the README, `knocklog run`, Logging) so that existing log watchers keep working.

import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { Writable } from 'node:stream';
import pino from 'pino';

export type Logger = pino.Logger;

export interface LogOptions {
  verbose: boolean;
  /** knockd's LogFile: lines `[YYYY-MM-DD HH:MM] message`, local time. */
  logFile: string | null;
  /** knockd's UseSyslog: facility user, level notice. */
  useSyslog: boolean;
}

/** Control characters as `\xNN` (a newline as `\n`), so that a message is one line of a text log. */
export function escapeControl(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, (c) =>
    c === '\n' ? '\\n' : `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/**
 * A destination that receives pino's JSON lines and writes `format(record)`
 * lines: one record, one line (LogFile and syslog readers split at newlines).
 */
function textStream(
  format: (r: { time: number; level: number; msg: string }) => string,
  out: NodeJS.WritableStream,
): Writable {
  return new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line === '') continue;
        const r = JSON.parse(line) as { time: number; level: number; msg: string };
        out.write(format({ ...r, msg: escapeControl(String(r.msg)) }));
      }
      done();
    },
  });
}

const pad = (n: number) => String(n).padStart(2, '0');

function knockdStamp(t: number): string {
  const d = new Date(t);
  const date = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
  return `[${date} ${pad(d.getHours())}:${pad(d.getMinutes())}]`;
}

const LEVELS: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };

export function createLogger(o: LogOptions): { log: Logger; close: () => Promise<void> } {
  const streams: pino.StreamEntry[] = [];
  const closers: (() => Promise<void>)[] = [];
  if (o.verbose && process.stdout.isTTY) {
    streams.push({
      level: 'debug',
      stream: textStream(
        (r) => `${new Date(r.time).toISOString().slice(11, 23)} ${LEVELS[r.level] ?? r.level} ${r.msg}\n`,
        process.stdout,
      ),
    });
  } else {
    streams.push({ level: o.verbose ? 'debug' : 'info', stream: pino.destination({ dest: 1, sync: true }) });
  }
  if (o.logFile !== null) {
    const file = createWriteStream(o.logFile, { flags: 'a', mode: 0o640 });
    file.on('error', (e) => process.stderr.write(`knocklog: cannot write the LogFile ${o.logFile}: ${e.message}\n`));
    streams.push({ level: 'info', stream: textStream((r) => `${knockdStamp(r.time)} ${r.msg}\n`, file) });
    closers.push(() => new Promise((res) => file.end(res)));
  }
  if (o.useSyslog) {
    // Node has no syslog(3); util-linux logger sends each stdin line to /dev/log.
    const logger = spawn('logger', ['-t', 'knocklog', '-p', 'user.notice'], { stdio: ['pipe', 'ignore', 'inherit'] });
    logger.on('error', (e) => process.stderr.write(`knocklog: UseSyslog: cannot run logger: ${e.message}\n`));
    logger.stdin.on('error', () => undefined);
    streams.push({ level: 'info', stream: textStream((r) => `${r.msg}\n`, logger.stdin) });
    closers.push(() => new Promise((res) => {
      logger.once('exit', () => res());
      logger.stdin.end();
    }));
  }
  const log = pino({ base: null, level: o.verbose ? 'debug' : 'info' }, pino.multistream(streams));
  return { log, close: async () => { await Promise.all(closers.map((c) => c())); } };
}
