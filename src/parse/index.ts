// line -> KnockEvent, or the reason it is not one. Pure: no I/O, and the
// only clock is `now`, used to give year-less syslog stamps their year.

import type { KnockEvent } from '../types.js';
import { textEnvelope, type Envelope, type Family } from './envelope.js';
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

function fromMessage(env: Envelope, prefix: string): KnockEvent {
  const msg = env.message;
  if (!msg.startsWith(prefix)) {
    throw new Reject(msg.includes('IN=') ? `prefix is not "${prefix}"` : 'not a firewall log record');
  }
  let i = prefix.length;
  while (msg.charCodeAt(i) === 32) i++;
  if (!msg.startsWith('IN=', i)) throw new Reject(`prefix "${prefix}" is not followed by IN=`);
  const f = parseRecord(msg.slice(i), env.printer);
  return {
    time: env.time,
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

function textEvent(line: string, opts: ParseOptions, family: Family): KnockEvent {
  return fromMessage(textEnvelope(line, opts.now, family), opts.prefix);
}

function parseOrThrow(line: string, opts: ParseOptions, prefix: string): KnockEvent {
  if (line.length > MAX_LINE) throw new Reject('line too long');
  const json = line.charCodeAt(0) === 123; /* { */
  if (!json && !line.includes('IN=')) throw new Reject('not a firewall log record');
  const o = { ...opts, prefix };
  switch (opts.format) {
    case 'kernel':
      return json ? fromMessage(journalEnvelope(line), prefix) : textEvent(line, o, 'kernel');
    case 'logemu':
      if (json) throw new Reject('JSON line in a LOGEMU source');
      return textEvent(line, o, 'logemu');
    case 'ulogd-json':
      if (!json) throw new Reject('not a ulogd2 JSON line');
      return ulogdJsonEvent(line, prefix);
    case 'auto':
      if (json) return line.includes('"oob.prefix"') ? ulogdJsonEvent(line, prefix) : fromMessage(journalEnvelope(line), prefix);
      try {
        return textEvent(line, o, 'kernel');
      } catch (e) {
        if (!(e instanceof Reject) || !/^(not written by the kernel \(program|no program tag)/.test(e.message)) throw e;
        // No kernel tag: it can only be a ulogd2 LOGEMU line.
        try {
          return textEvent(line, o, 'logemu');
        } catch (e2) {
          if (e2 instanceof Reject) throw new Reject(`${e.message}, and not a LOGEMU record: ${e2.message}`);
          throw e2;
        }
      }
  }
}

/** Parses one line (without its newline). Never throws. */
export function parseLine(line: string, opts: ParseOptions): ParseResult {
  try {
    return { ok: true, event: parseOrThrow(line, opts, opts.prefix.trimEnd()) };
  } catch (e) {
    if (e instanceof Reject) return { ok: false, reason: e.message };
    // A parser bug must not take the daemon down with it; it is a reject too.
    return { ok: false, reason: `internal error: ${(e as Error).message}` };
  }
}
