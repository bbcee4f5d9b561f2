// The envelope of a log line: who wrote it and when. Only envelopes that
// only the kernel (or a dedicated ulogd2 file) can produce yield a message;
// everything else is rejected with the reason.

import { Reject, type Printer } from './record.js';
import { localWithYear, monthIndex, rfc3339, yearlessLocal } from './time.js';

export interface Envelope {
  /** Computed only for records that are accepted: converting a stamp costs more than rejecting a line. */
  time: () => string | null;
  uptime: number | null;
  host: string | null;
  /** The kernel message (or ulogd2 text), starting with the firewall prefix. */
  message: string;
  printer: Printer;
}

// Mmm dd hh:mm:ss[.ffffff] — BSD syslog, journalctl short / short-precise, ulogd2 LOGEMU.
// The month is an English abbreviation or a CJK "11月" (journalctl under a zh locale).
const BSD = /^([A-Z][a-z]{2}|1?\d月) {1,2}(\d{1,2}) (\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))? /;
// rsyslog's high-precision stamp, journalctl short-iso[-precise], optionally after <PRI>.
const ISO = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?(?:Z|[+-]\d\d:?\d\d)) /;
// RFC 5424: VERSION TIMESTAMP HOSTNAME APP-NAME PROCID MSGID (after <PRI>).
const RFC5424 = /^1 (\S+) (\S+) (\S+) (\S+) (\S+) /;
const UPTIME = /^\[ *(\d{1,10}\.\d{1,9})(?:@\d{1,4})?\] /;
const DMESG_T = /^\[[A-Z][a-z]{2} ([A-Z][a-z]{2}) {1,2}(\d{1,2}) (\d\d):(\d\d):(\d\d) (\d{4})\] /;
const KMSG = /^(\d{1,3}),\d{1,20},(\d{1,20}),[^;]*;/;
const PRI = /^<(\d{1,3})>/;
const FACILITY_PRIORITY = /^[a-z0-9]+\.[a-z]+ /;

export const noTime = (): null => null;

/** Which envelopes a source may carry. */
export type Family = 'kernel' | 'logemu';

/** The text after an optional `[ uptime]` stamp at the start of a kernel message. */
function kernelMessage(rest: string): { uptime: number | null; message: string } {
  const m = UPTIME.exec(rest);
  if (m === null) return { uptime: null, message: rest };
  return { uptime: Number(m[1]), message: rest.slice(m[0].length) };
}

/** A reason when the syslog priority is not the kernel facility's, else null. */
function notKernelFacility(pri: string): string | null {
  const n = Number(pri);
  if (n > 191) return `bad syslog priority <${pri}>`;
  if (n >> 3 !== 0) return `not the kernel facility: <${pri}>`;
  return null;
}

/**
 * After a syslog stamp: `HOST kernel: MSG`, `kernel: MSG` (no host),
 * `HOST fac.level kernel: MSG` (EdgeOS), or for ulogd2 `HOST PREFIX...`.
 */
function afterStamp(rest: string, time: () => string | null, family: Family): Envelope | string {
  if (family === 'logemu') {
    const sp = rest.indexOf(' ');
    if (sp <= 0) return 'no host after the time stamp';
    return { time, uptime: null, host: rest.slice(0, sp), message: rest.slice(sp + 1), printer: 'logemu' };
  }
  let host: string | null = null;
  let r = rest;
  if (!r.startsWith('kernel: ')) {
    const sp = r.indexOf(' ');
    if (sp <= 0) return 'no program tag';
    host = r.slice(0, sp);
    r = r.slice(sp + 1);
    const fp = FACILITY_PRIORITY.exec(r);
    if (fp !== null) {
      if (!fp[0].startsWith('kern.')) return `not the kernel facility: ${fp[0].trim()}`;
      r = r.slice(fp[0].length);
    }
    if (!r.startsWith('kernel: ')) {
      const tag = r.slice(0, r.indexOf(' ') >>> 0);
      return `not written by the kernel (program "${tag.slice(0, 40)}")`;
    }
  }
  const k = kernelMessage(r.slice(8));
  return { time, uptime: k.uptime, host, message: k.message, printer: 'kernel' };
}

let lastBsdStamp = '';
let lastBsdNow = NaN;
let lastBsdTime = '';

function bsd(line: string, now: Date, family: Family): Envelope | string | null {
  const m = BSD.exec(line);
  if (m === null) return null;
  const stamp = m[0];
  const time = () => {
    // Lines come in runs with the same stamp: convert each stamp once (per `now`: the year and DST hour depend on it).
    if (stamp === lastBsdStamp && now.getTime() === lastBsdNow) return lastBsdTime;
    const [, mon, d, h, mi, s, frac = ''] = m;
    const t = yearlessLocal(monthIndex(mon!), Number(d), Number(h), Number(mi), Number(s), frac, now);
    if (t === null) throw new Reject('bad time stamp');
    lastBsdStamp = stamp;
    lastBsdNow = now.getTime();
    lastBsdTime = t;
    return t;
  };
  return afterStamp(line.slice(m[0].length), time, family);
}

function iso(line: string, family: Family): Envelope | string | null {
  const m = ISO.exec(line);
  if (m === null) return null;
  const time = () => {
    const t = rfc3339(m[1]!);
    if (t === null) throw new Reject('bad time stamp');
    return t;
  };
  return afterStamp(line.slice(m[0].length), time, family);
}

function rfc5424(line: string): Envelope | string {
  const m = RFC5424.exec(line);
  if (m === null) return 'malformed RFC 5424 header';
  const [, ts, host, app] = m;
  if (app !== 'kernel') return `not written by the kernel (APP-NAME "${app!.slice(0, 40)}")`;
  const time = () => {
    const t = ts === '-' ? null : rfc3339(ts!);
    if (t === null && ts !== '-') throw new Reject('bad time stamp');
    return t;
  };
  let rest = line.slice(m[0].length);
  if (rest.startsWith('- ')) rest = rest.slice(2);
  else if (rest.startsWith('[')) {
    const end = rest.indexOf('] ');
    if (end === -1) return 'malformed structured data';
    rest = rest.slice(end + 2);
  } else return 'malformed structured data';
  if (rest.charCodeAt(0) === 0xfeff) rest = rest.slice(1);
  const k = kernelMessage(rest);
  return { time, uptime: k.uptime, host: host === '-' ? null : host!, message: k.message, printer: 'kernel' };
}

/** dmesg: `[ uptime] MSG` or `dmesg -T`'s `[Fri Jan 10 10:34:04 2020] MSG`. */
function dmesg(line: string): Envelope | string {
  const m = UPTIME.exec(line);
  if (m !== null) {
    return { time: noTime, uptime: Number(m[1]), host: null, message: line.slice(m[0].length), printer: 'kernel' };
  }
  const t = DMESG_T.exec(line);
  if (t === null) return 'malformed dmesg stamp';
  const [, mon, d, h, mi, s, y] = t;
  const time = () => {
    const t = localWithYear(Number(y), monthIndex(mon!), Number(d), Number(h), Number(mi), Number(s));
    if (t === null) throw new Reject('bad time stamp');
    return t;
  };
  return { time, uptime: null, host: null, message: line.slice(t[0].length), printer: 'kernel' };
}

/** A text line's envelope, for a source of the given family. */
export function textEnvelope(line: string, now: Date, family: Family): Envelope | string {
  const c = line.charCodeAt(0);
  if (family === 'kernel') {
    if (c === 91 /* [ */) return dmesg(line);
    if (c === 60 /* < */) {
      const p = PRI.exec(line);
      if (p === null) return 'malformed syslog priority';
      const notKernel = notKernelFacility(p[1]!);
      if (notKernel !== null) return notKernel;
      const rest = line.slice(p[0].length);
      if (rest.startsWith('1 ')) return rfc5424(rest);
      if (rest.charCodeAt(0) === 91) return dmesg(rest);
      const e = iso(rest, family) ?? bsd(rest, now, family);
      if (e === null) return 'no time stamp after the syslog priority';
      return e;
    }
    const k = KMSG.exec(line);
    if (k !== null) {
      const notKernel = notKernelFacility(k[1]!);
      if (notKernel !== null) return notKernel;
      return {
        time: noTime,
        uptime: Number(k[2]) / 1e6,
        host: null,
        message: line.slice(k[0].length),
        printer: 'kernel',
      };
    }
  }
  const e = iso(line, family) ?? bsd(line, now, family);
  if (e === null) return 'no syslog, dmesg or kmsg header';
  return e;
}
