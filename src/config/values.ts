// Parsers for single directive values other than sequences. Each returns the
// typed value or what is wrong with it; none guesses the way knockd's atoi does.

import ini from 'ini';
import { canonicalAddress } from '../net.js';
import type { TcpFlagName, TcpFlagRule } from '../types.js';
import { type Checked, type Invalid, invalid, valid } from './errors.js';

/** Node's timers overflow (and fire at once) beyond 2^31-1 ms. */
const MAX_MS = 2 ** 31 - 1;

/**
 * Seconds as a non-negative decimal (`25`, `2.5`), returned in ms. knockd uses
 * atoi (whole seconds, `abc` is 0); knocklog times knocks to the millisecond, so
 * fractions are accepted and anything else is rejected.
 */
export function parseSeconds(text: string, key: string, allowZero: boolean): Checked<number> {
  if (!/^\d+(\.\d+)?$/.test(text)) {
    return invalid(`${key} "${text}" is not a number of seconds`, 'use a non-negative number such as 5 or 2.5');
  }
  const ms = Math.round(Number(text) * 1000);
  if (ms === 0 && !allowZero) return invalid(`${key} is 0`, 'use a number of seconds greater than 0');
  if (ms > MAX_MS) return invalid(`${key} ${text} is too large`, `use at most ${Math.floor(MAX_MS / 1000)} seconds`);
  return valid(ms);
}

const FLAG_NAMES: readonly TcpFlagName[] = ['fin', 'syn', 'rst', 'psh', 'ack', 'urg'];

/** `syn,!ack`: items trimmed, names case-insensitive (knockd upper-cases them too). */
export function parseTcpFlags(text: string): Checked<TcpFlagRule[]> {
  const hint = 'use fin, syn, rst, psh, ack or urg, each optionally prefixed with !';
  if (text.trim() === '') return invalid('TCPFlags is empty', hint);
  const rules: TcpFlagRule[] = [];
  const errors: Invalid[] = [];
  for (const raw of text.split(',')) {
    const item = raw.trim();
    if (item === '') {
      errors.push({ error: `TCPFlags "${text}" has an empty item`, hint: 'remove the extra comma' });
      continue;
    }
    const negated = item.startsWith('!');
    const name = (negated ? item.slice(1) : item).trim().toLowerCase();
    if (!(FLAG_NAMES as readonly string[]).includes(name)) {
      errors.push({ error: `unknown TCP flag "${item}"`, hint });
      continue;
    }
    rules.push({ flag: name as TcpFlagName, negated });
  }
  return errors.length ? { ok: false, errors } : valid(rules);
}

/**
 * Adds rules to a door's rules (several TCPFlags lines add up). A repeated rule
 * is kept once; `syn` together with `!syn` can never match, so it is an error
 * (knockd silently keeps the last one).
 */
export function mergeTcpFlags(into: TcpFlagRule[], add: readonly TcpFlagRule[]): Invalid[] {
  const errors: Invalid[] = [];
  for (const r of add) {
    const same = into.find((x) => x.flag === r.flag);
    if (same === undefined) into.push(r);
    else if (same.negated !== r.negated) {
      errors.push({ error: `TCPFlags asks for both ${r.flag} and !${r.flag}`, hint: 'keep only one of them' });
    }
  }
  return errors;
}

export function formatTcpFlags(rules: readonly TcpFlagRule[]): string {
  return rules.map((r) => (r.negated ? '!' : '') + r.flag).join(',');
}

/** Target: an address literal only; knocklog never resolves names. Canonical form, as log lines are compared in it. */
export function parseTarget(text: string): Checked<string> {
  const addr = canonicalAddress(text);
  if (addr === null) {
    return invalid(`Target "${text}" is not an IP address`, 'use an IPv4 or IPv6 address such as 10.0.0.50');
  }
  return valid(addr);
}

const SOURCE_HINT = 'use file:PATH, ulogd:PATH, ulogd-socket:PATH, journal, kmsg or stdin, separated by commas';

/**
 * The sources that name a path: kernel lines (`file:`), a dedicated ulogd2 LOGEMU/JSON file (`ulogd:`), or the
 * Unix socket ulogd2's JSON output connects to (`ulogd-socket:`).
 */
export const FILE_SOURCES = ['file:', 'ulogd:', 'ulogd-socket:'] as const;

/** One log source: `file:PATH`, `ulogd:PATH`, `ulogd-socket:PATH`, `journal`, `kmsg`, `stdin`. */
export function parseSource(text: string): Checked<string> {
  const item = text.trim();
  const lower = item.toLowerCase();
  if (lower === 'journal' || lower === 'kmsg' || lower === 'stdin') return valid(lower);
  for (const kind of FILE_SOURCES) {
    if (!lower.startsWith(kind)) continue;
    const path = item.slice(kind.length).trim();
    if (path === '') return invalid(`source "${item}" has no path`, `write ${kind}/var/log/kern.log`);
    return valid(`${kind}${path}`);
  }
  return invalid(`unknown source "${item}"`, SOURCE_HINT);
}

/** Sources: a comma list of sources, none repeated. */
export function parseSources(text: string): Checked<string[]> {
  if (text.trim() === '') return invalid('Sources is empty', `${SOURCE_HINT}, or remove the line for the default`);
  const out: string[] = [];
  const errors: Invalid[] = [];
  for (const raw of text.split(',')) {
    if (raw.trim() === '') {
      errors.push({ error: `Sources "${text}" has an empty item`, hint: 'remove the extra comma' });
      continue;
    }
    const s = parseSource(raw);
    if (!s.ok) errors.push(...s.errors);
    else if (out.includes(s.value)) errors.push({ error: `source "${s.value}" is listed twice`, hint: 'list it once' });
    else out.push(s.value);
  }
  return errors.length ? { ok: false, errors } : valid(out);
}

/**
 * Prefix: the raw value, or, when it is in double quotes, the quoted string as
 * ini files (the `ini` package) read one, so that a trailing space survives
 * (`Prefix = "[UFW BLOCK] "`); `\"` and `\\` stand for `"` and `\`. knockd has
 * no such key, so quoting here changes no knockd meaning.
 */
export function parsePrefix(text: string): Checked<string> {
  let value = text;
  if (text.startsWith('"')) {
    value = ini.unsafe(text);
    if (value.startsWith('"') || !text.endsWith('"')) {
      return invalid(`Prefix ${text} is not a well-formed quoted string`, 'end it with " and write \\" for a quote inside');
    }
  }
  if (value === '') return invalid('Prefix is empty', 'give the log prefix of the firewall rule, e.g. KNOCK');
  if (/[\x00-\x1f\x7f]/.test(value)) return invalid('Prefix contains a control character', 'use printable characters only');
  return valid(value);
}

/** MaxSources: a positive integer. */
export function parsePositiveInteger(text: string, key: string): Checked<number> {
  if (!/^[1-9]\d*$/.test(text) || !Number.isSafeInteger(Number(text))) {
    return invalid(`${key} "${text}" is not a positive whole number`, 'use a number such as 100000');
  }
  return valid(Number(text));
}

/** User: a user name or a numeric uid, as useradd would accept it. */
export function parseUser(text: string): Checked<string> {
  if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]*\$?$/.test(text) || text.length > 32) {
    return invalid(`User "${text}" is not a valid user name`, 'use an existing system user such as nobody');
  }
  return valid(text);
}

/** Interface: a Linux interface name as the kernel prints it after IN= (at most 15 bytes, no spaces or '/'). */
export function parseInterface(text: string): Checked<string> {
  if (!/^[^\s/]{1,15}$/.test(text)) {
    return invalid(`Interface "${text}" is not an interface name`, 'use a name such as eth0 (at most 15 characters, no spaces)');
  }
  return valid(text);
}
