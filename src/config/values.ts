// Parsers for single directive values other than sequences. Each returns the
// typed value or what is wrong with it; none guesses the way knockd's atoi does.

import ini from 'ini';
import { canonicalAddress, isIPv4Mapped, MAX_ADDRESS_LENGTH } from '../net.js';
import { isInterfaceName } from '../parse/record.js';
import type { TcpFlagName, TcpFlagRule } from '../types.js';
import { type Checked, type Invalid, invalid, valid } from './errors.js';

/** Node's timers overflow (and fire at once) beyond 2^31-1 ms: whole seconds below that. */
const MAX_TIMER_S = Math.floor((2 ** 31 - 1) / 1000);

/** The seconds a time setting may take, inclusive. */
export interface SecondsRange {
  min: number;
  max: number;
}

/**
 * Seq_Timeout: knockd's own examples use 5 to 30 s. Below 1 s no client over a
 * real network finishes a sequence; above an hour, a knock that old in a log
 * read after a restart (the stale rule is seq_timeout) would still count.
 */
export const SEQ_TIMEOUT_RANGE: SecondsRange = { min: 1, max: 3600 };
/** Cmd_Timeout: 0 is meaningful (stop right after start finishes); a door may stay open for days. */
export const CMD_TIMEOUT_RANGE: SecondsRange = { min: 0, max: MAX_TIMER_S };
/** Sequence_Step: below 1 s a sequence changes while it is knocked and clocks must agree to the ms. */
export const STEP_RANGE: SecondsRange = { min: 1, max: MAX_TIMER_S };

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

/**
 * Seconds as a non-negative decimal (`25`, `2.5`) within `range`, returned in
 * ms. knockd uses atoi (whole seconds, `abc` is 0); knocklog times knocks to
 * the millisecond, so fractions are accepted and anything else is rejected.
 */
export function parseSeconds(text: string, key: string, range: SecondsRange): Checked<number> {
  const hint = `use a number of seconds from ${range.min} to ${range.max}`;
  if (!/^\d+(\.\d+)?$/.test(text)) return invalid(`${key} "${text}" is not a number of seconds`, hint);
  const s = Number(text);
  if (s < range.min) return invalid(`${key} ${text} is less than ${plural(range.min, 'second')}`, hint);
  if (s > range.max) return invalid(`${key} ${text} is more than ${plural(range.max, 'second')}`, hint);
  return valid(Math.round(s * 1000));
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
  if (isIPv4Mapped(addr)) {
    return invalid(`Target "${text}" is an IPv4-mapped IPv6 address, which no log record carries as DST`,
      `write the IPv4 address: Target = ${addr.slice('::ffff:'.length)}`);
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
      return invalid(
        `Prefix ${text} is not a well-formed quoted string`,
        'end it with " and write \\" for a quote inside',
      );
    }
  }
  if (value === '') return invalid('Prefix is empty', 'give the log prefix of the firewall rule, e.g. KNOCK');
  // The parser ignores a prefix's trailing blanks: a blank one would match records without any prefix.
  if (value.trim() === '') return invalid('Prefix is blank', 'give the log prefix of the firewall rule, e.g. KNOCK');
  if (/[\x00-\x1f\x7f]/.test(value)) {
    return invalid('Prefix contains a control character', 'use printable characters only');
  }
  return valid(value);
}

/** MaxSources: a positive integer. */
export function parsePositiveInteger(text: string, key: string): Checked<number> {
  if (!/^[1-9]\d*$/.test(text) || !Number.isSafeInteger(Number(text))) {
    return invalid(`${key} "${text}" is not a positive whole number`, 'use a number such as 100000');
  }
  return valid(Number(text));
}

/** User: a user name or a numeric uid, as useradd would accept it; not root. */
export function parseUser(text: string): Checked<string> {
  if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]*\$?$/.test(text) || text.length > 32) {
    return invalid(`User "${text}" is not a valid user name`, 'use a system user of its own, such as knocklog');
  }
  if (text === 'root' || /^0+$/.test(text)) {
    return invalid(`User "${text}" is root`, 'the reader parses untrusted log lines and must not run as root: '
      + 'use a user of its own: useradd --system --no-create-home --shell /usr/sbin/nologin knocklog');
  }
  return valid(text);
}

const IFACE_HINT = 'use a name such as eth0 as the log shows it after IN= (at most 15 bytes, no blanks, "/" or "=")';
const ANY_IFACE = 'remove the line to count knocks on any interface';

/** Interface: a Linux interface name as the kernel prints it after IN= (what the record parser accepts there). */
export function parseInterface(text: string): Checked<string> {
  if (text === '') return invalid('Interface is empty', `give a name such as eth0, or ${ANY_IFACE}`);
  if (/^".*"$/.test(text)) {
    return invalid(`Interface ${text} is in quotes`,
      `knockd.conf takes the name without them, e.g. Interface = eth0; ${ANY_IFACE}`);
  }
  if (!isInterfaceName(text) || Buffer.byteLength(text) > 15) {
    return invalid(`Interface "${text}" is not an interface name`, IFACE_HINT);
  }
  return valid(text);
}

/**
 * The most bytes of `/bin/sh -c CMD`'s CMD: the kernel's MAX_ARG_STRLEN (32
 * pages of 4 KiB; more with larger pages) with its NUL. Measured: 131071 runs,
 * 131072 fails with E2BIG.
 */
const MAX_ARG_BYTES = 32 * 4096 - 1;

/** A command: no NUL byte (spawn refuses it) and short enough to exec once %IP% is expanded. */
export function parseCommand(text: string, key: string): Checked<string> {
  if (text.includes('\0')) return invalid(`${key} contains a NUL byte, which no command can carry`, 'remove it');
  const ips = text.split('%IP%').length - 1;
  const bytes = Buffer.byteLength(text) + ips * (MAX_ADDRESS_LENGTH - '%IP%'.length);
  if (bytes > MAX_ARG_BYTES) {
    const when = ips > 0 ? ` once %IP% is an IPv6 address of ${MAX_ADDRESS_LENGTH} characters` : '';
    return invalid(`${key} is ${bytes} bytes${when}; the kernel takes at most ${MAX_ARG_BYTES} bytes in one argument`,
      'shorten it, e.g. put it in a script and run that');
  }
  return valid(text);
}
