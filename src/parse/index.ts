// line -> KnockEvent, or the reason it is not one. Pure: no I/O, and the
// only clock is `now`, used to give year-less syslog stamps their year.

import type { KnockEvent } from '../types.js';
import { textEnvelope, type Envelope, } from './envelope.js';
import { journalEnvelope, ulogdJsonEvent } from './json.js';
import { parseRecord, Reject } from './record.js';

/**
 * What a source carries. `kernel`: kern.log (BSD, RFC 3339, RFC 5424 with
 * the kernel's tag), dmesg, /dev/kmsg records, journalctl's short formats and
 * journald JSON with `_TRANSPORT=kernel`. `logemu` and `ulogd-json`: a
 * dedicated ulogd2 file. `auto` tries them all, line by line: for looking at
 * logs, never for a source that opens doors, since LOGEMU lines carry no
 * program tag that a userspace forgery could not also write.
 */
export type Format = 'auto' | 'kernel' | 'logemu' | 'ulogd-json';
export const FORMATS: readonly Format[] = ['auto', 'kernel', 'logemu', 'ulogd-json'];

export interface ParseOptions {
  /** The firewall log prefix that must open the kernel message (trailing blanks ignored). */
  prefix: string;
  format: Format;
  /** Gives year-less stamps their year. */
  now: Date;
}

export type ParseResult = { ok: true; event: KnockEvent } | { ok: false; reason: string };

/** Longer lines are not LOG records (those stay well under 1 KiB); refuse them before any work. */
export const MAX_LINE = 4096;

// Rejects are returned as reason strings rather than thrown: most lines of a
// kernel log are rejects, and throwing costs more than parsing. Only the
// record parser (reached by lines that carry the prefix) throws Reject.

function fromMessage(env: Envelope | string, prefix: string): KnockEvent | string {
  if (typeof env === 'string') return env;
  const msg = env.message;
  if (!msg.startsWith(prefix)) return msg.includes('IN=') ? `prefix is not "${prefix}"` : 'not a firewall log record';
  let i = prefix.length;
  while (msg.charCodeAt(i) === 32) i++;
  if (!msg.startsWith('IN=', i)) return `prefix "${prefix}" is not followed by IN=`;
  const f = parseRecord(msg.slice(i), env.printer);
  return {
    time: env.time(),
    uptime: env.uptime,
    host: env.host,
    prefix,
    in: f.in,
    src: f.src,
    dst: f.dst,
    proto: f.proto,
    spt: f.spt,
    dpt: f.dpt,
    flags: f.flags,
  };
}

const LOGEMU_FALLBACK = /^(not written by the kernel \(program|no program tag)/;

function parseAny(line: string, opts: ParseOptions, prefix: string): KnockEvent | string {
  if (line.length > MAX_LINE) return 'line too long';
  const json = line.charCodeAt(0) === 123; /* { */
  // Most lines of a kernel log are not ours: one native search rejects them
  // before any envelope is parsed. (Not JSON: its text may be escaped.)
  if (!json && prefix !== '' && !line.includes(prefix)) {
    return line.includes('IN=') ? `prefix is not "${prefix}"` : 'not a firewall log record';
  }
  const now = opts.now;
  switch (opts.format) {
    case 'kernel':
      return fromMessage(json ? journalEnvelope(line) : textEnvelope(line, now, 'kernel'), prefix);
    case 'logemu':
      return json ? 'JSON line in a LOGEMU source' : fromMessage(textEnvelope(line, now, 'logemu'), prefix);
    case 'ulogd-json':
      return json ? ulogdJsonEvent(line, prefix) : 'not a ulogd2 JSON line';
    case 'auto': {
      if (json) {
        return line.includes('"oob.prefix"')
          ? ulogdJsonEvent(line, prefix)
          : fromMessage(journalEnvelope(line), prefix);
      }
      const k = fromMessage(textEnvelope(line, now, 'kernel'), prefix);
      if (typeof k !== 'string' || !LOGEMU_FALLBACK.test(k)) return k;
      // No kernel tag: it can only be a ulogd2 LOGEMU line.
      const u = fromMessage(textEnvelope(line, now, 'logemu'), prefix);
      return typeof u === 'string' ? `${k}, and not a LOGEMU record: ${u}` : u;
    }
  }
}

/** Parses one line (without its newline). Never throws. */
export function parseLine(line: string, opts: ParseOptions): ParseResult {
  try {
    const r = parseAny(line, opts, opts.prefix.trimEnd());
    return typeof r === 'string' ? { ok: false, reason: r } : { ok: true, event: r };
  } catch (e) {
    if (e instanceof Reject) return { ok: false, reason: e.message };
    // A parser bug must not take the daemon down with it; it is a reject too.
    return { ok: false, reason: `internal error: ${(e as Error).message}` };
  }
}
