// Time stamps as log lines carry them, turned into the contract's UTC ISO-8601
// string with the precision the line had (the fraction digits are kept as
// written: converting a zone offset never changes them).

const MONTHS: Record<string, number> = {
  Jan: 0, Feb: 1, Mar: 2, Apr: 3, May: 4, Jun: 5, Jul: 6, Aug: 7, Sep: 8, Oct: 9, Nov: 10, Dec: 11,
};

/** Month index from an English abbreviation or a CJK `N月`; -1 when unknown. */
export function monthIndex(word: string): number {
  const m = MONTHS[word];
  if (m !== undefined) return m;
  if (word.endsWith('月')) {
    const n = Number(word.slice(0, -1));
    if (Number.isInteger(n) && n >= 1 && n <= 12) return n - 1;
  }
  return -1;
}

// Log lines come in runs with the same second: format each second once.
let lastSec = NaN;
let lastBase = '';

function isoFromEpochSeconds(sec: number, frac: string): string {
  if (sec !== lastSec) {
    lastSec = sec;
    lastBase = new Date(sec * 1000).toISOString().slice(0, 19);
  }
  const base = lastBase;
  return frac === '' ? `${base}Z` : `${base}.${frac}Z`;
}

function validClock(h: number, mi: number, s: number): boolean {
  return h <= 23 && mi <= 59 && s <= 60;
}

// Date.UTC and new Date(y, ...) read years 0-99 as 1900-1999; setFullYear takes them as written.

function utcMs(y: number, mo: number, d: number, h: number, mi: number, s: number): number {
  const t = new Date(0);
  t.setUTCFullYear(y, mo, d);
  t.setUTCHours(h, mi, s, 0);
  return t.getTime();
}

function localDate(y: number, mo: number, d: number, h: number, mi: number, s: number): Date {
  const t = new Date(0);
  t.setFullYear(y, mo, d);
  t.setHours(h, mi, s, 0);
  return t;
}

/**
 * A local time in the hour a DST change repeats happens twice, and Date gives
 * the first. A line is read after it was written: take the later occurrence
 * unless it is still to come. So a line read as it is logged is placed right
 * in both passes; a line of the first pass read more than an hour later
 * (replay) is placed an hour late.
 */
function latestPast(first: Date, now: Date): number {
  const t = first.getTime();
  // No zone changes its offset twice within 3 hours.
  const later = t + (new Date(t + 3 * 3600_000).getTimezoneOffset() - first.getTimezoneOffset()) * 60_000;
  if (later <= t || later > now.getTime()) return t;
  const again = new Date(later);
  const same = again.getDate() === first.getDate() && again.getHours() === first.getHours()
    && again.getMinutes() === first.getMinutes() && again.getSeconds() === first.getSeconds();
  return same ? later : t;
}

/**
 * A year-less local-time syslog stamp. It takes the year of `now`, or the
 * previous year when that would put it more than a month in the future
 * (a December line read in January); in a repeated DST hour, see latestPast.
 */
export function yearlessLocal(
  month: number, day: number, h: number, mi: number, s: number, frac: string, now: Date,
): string | null {
  if (month < 0 || day < 1 || day > 31 || !validClock(h, mi, s)) return null;
  let year = now.getFullYear();
  let d = localDate(year, month, day, h, mi, s);
  if (d.getTime() - now.getTime() > 31 * 86400_000) {
    year -= 1;
    d = localDate(year, month, day, h, mi, s);
  }
  if (d.getMonth() !== month) return null; // Feb 30 and the like
  return isoFromEpochSeconds(Math.floor(latestPast(d, now) / 1000), frac);
}

/** A local time with its year (dmesg -T). */
export function localWithYear(
  year: number, month: number, day: number, h: number, mi: number, s: number,
): string | null {
  if (month < 0 || day < 1 || day > 31 || !validClock(h, mi, s)) return null;
  const d = localDate(year, month, day, h, mi, s);
  if (d.getMonth() !== month) return null;
  return isoFromEpochSeconds(Math.floor(d.getTime() / 1000), '');
}

const RFC3339 = /^(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:?\d\d)?$/;

/**
 * RFC 3339 / ISO-8601 as rsyslog, journalctl (`+0000` without a colon) and
 * ulogd2 (no zone at all: ulogd2 writes local time) print it.
 */
export function rfc3339(stamp: string): string | null {
  const m = RFC3339.exec(stamp);
  if (m === null) return null;
  const [, y, mo, d, h, mi, s, frac = '', zone] = m;
  const month = Number(mo) - 1;
  const day = Number(d);
  const hh = Number(h);
  const mm = Number(mi);
  const ss = Number(s);
  if (month > 11 || day < 1 || day > 31 || !validClock(hh, mm, ss)) return null;
  let sec: number;
  if (zone === undefined) {
    sec = Math.floor(localDate(Number(y), month, day, hh, mm, ss).getTime() / 1000);
  } else {
    let offset = 0;
    if (zone !== 'Z') {
      const sign = zone[0] === '-' ? -1 : 1;
      const digits = zone.slice(1).replace(':', '');
      offset = sign * (Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2)));
    }
    sec = utcMs(Number(y), month, day, hh, mm, ss) / 1000 - offset * 60;
  }
  return isoFromEpochSeconds(sec, frac);
}

/** Microseconds since the epoch (journald's __REALTIME_TIMESTAMP, ulogd2's oob.time); null past year 9999. */
export function fromEpochMicros(us: bigint): string | null {
  const sec = us / 1_000_000n;
  if (sec > 253402300799n) return null;
  const frac = (us % 1_000_000n).toString().padStart(6, '0');
  return isoFromEpochSeconds(Number(sec), frac);
}

/** Milliseconds since the epoch of a contract time string (fractions beyond ms kept as a fraction of a ms). */
export function isoToMs(iso: string): number {
  const dot = iso.indexOf('.', 19);
  const whole = Date.parse(`${iso.slice(0, 19)}Z`);
  if (dot === -1) return whole;
  return whole + Number(`0.${iso.slice(dot + 1, -1)}`) * 1000;
}
