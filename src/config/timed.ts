// Time-based doors (knocklog's own keys, no knockd equivalent): a shared secret
// and a port range instead of a fixed Sequence. The values are checked here;
// the sequences themselves are derived in src/totp/.

import { join } from 'node:path';
import type { Door, Proto, TimedDoor, TimedSequence, TimedUser } from '../types.js';
import { availablePorts, decodeBase32 } from '../totp/index.js';
import { type DirectiveAt, type Handler, pathValue, refuse, stored } from './directive.js';
import { type Checked, type Invalid, invalid, type Problems, take, valid } from './errors.js';
import { type ConfigIO, describeFsError } from './io.js';
import type { KeyName, TimedKey } from './keys.js';
import { MAX_SEQUENCE_LENGTH } from './sequence.js';
import { parseSeconds, STEP_RANGE } from './values.js';

/** How `check` and `rules` describe a time-based door's sequence. */
export function describeTimed(t: TimedSequence): string {
  const who = t.users === undefined ? '' : `, per user (${t.users.length})`;
  const bound = t.bind === undefined ? '' : ', bound to the knocking address';
  const every = `a new sequence every ${t.stepMs / 1000} s`;
  return `time-based, ${t.length} ports of ${t.low}-${t.high}:${t.proto}, ${every}${who}${bound}`;
}

export const DEFAULT_TIMED_LENGTH = 3;
export const DEFAULT_TIMED_STEP_MS = 30_000;
/** 128 bits, RFC 4226's minimum recommendation for an HMAC key. */
export const MIN_SECRET_BYTES = 16;

const SECRET_HINT = 'make one with: head -c 20 /dev/urandom | base32';

/** A user's name, as the file name of their secret: no path tricks, nothing a log line could be confused by. */
const USER_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$/;

export const isUserName = (name: string): boolean => USER_NAME.test(name);

export interface PortRange {
  low: number;
  high: number;
  proto: Proto;
}

/** What a door section said about its time-based sequence, with the lines, for messages. */
export interface TimedDraft {
  /** `users` for Sequence_Secret_Dir (hex is then ''). */
  secret: { key: SecretKey; hex: string; from: string; line: number; users?: TimedUser[] } | null;
  length: number;
  stepMs: number;
  ports: (PortRange & { line: number }) | null;
  exclude: number[];
  bind: { line: number } | null;
  /** The first line of any of these keys, or null when the door has none. */
  line: number | null;
  /** A key was given but invalid: "no secret" or "no range" is then not reported too. */
  broken: boolean;
}

export function emptyTimedDraft(): TimedDraft {
  return {
    secret: null, length: DEFAULT_TIMED_LENGTH, stepMs: DEFAULT_TIMED_STEP_MS, ports: null, exclude: [], bind: null,
    line: null, broken: false,
  };
}

/** A base32 secret of at least MIN_SECRET_BYTES, as hex. */
export function parseSecret(text: string, what: string): Checked<string> {
  const bytes = decodeBase32(text);
  if (bytes === null || bytes.length === 0) return invalid(`${what} is not base32 (A-Z and 2-7)`, SECRET_HINT);
  if (bytes.length < MIN_SECRET_BYTES) {
    return invalid(`${what} is ${bytes.length} bytes; at least ${MIN_SECRET_BYTES} are needed`, SECRET_HINT);
  }
  return valid(bytes.toString('hex'));
}

/** The secret in a file (base32 text; surrounding blanks ignored), as hex. */
export function readSecretFile(path: string, io: ConfigIO): Checked<string> {
  let text: string;
  try {
    text = io.readFile(path);
  } catch (e) {
    return invalid(`secret file ${path} cannot be read: ${describeFsError(e)}`,
      `create it (chmod 600) holding a base32 secret; ${SECRET_HINT}`);
  }
  return parseSecret(text.trim(), `the secret in ${path}`);
}

/**
 * Sequence_Secret_Dir: one secret file per user, named after the user. Every
 * file must be a valid secret (a stray file is an error, not skipped: the
 * directory is the list of who may open the door).
 */
export function readSecretDir(dir: string, io: ConfigIO): Checked<TimedUser[]> {
  let names: string[];
  try {
    names = io.readDir(dir).sort();
  } catch (e) {
    return invalid(`secret directory ${dir} cannot be read: ${describeFsError(e)}`,
      `create it (chmod 700), with one file per user (chmod 600) named after the user; ${SECRET_HINT}`);
  }
  const users: TimedUser[] = [];
  const errors: Invalid[] = [];
  for (const name of names) {
    if (!isUserName(name)) {
      errors.push({ error: `${join(dir, name)}: "${name}" is not a user name`,
        hint: 'name each secret file after its user (letters, digits, _ . - but not first, up to 64); ' +
          'remove other files' });
      continue;
    }
    const hex = readSecretFile(join(dir, name), io);
    if (hex.ok) users.push({ name, secretHex: hex.value });
    else errors.push(...hex.errors);
  }
  return errors.length > 0 ? { ok: false, errors } : valid(users);
}

function port(text: string): number | null {
  if (!/^\d+$/.test(text)) return null;
  const n = Number(text);
  return n >= 1 && n <= 65535 ? n : null;
}

/** `LOW-HIGH[:tcp|udp]`, e.g. `20000-29999` or `40000-49999:udp`. */
export function parsePortRange(text: string): Checked<PortRange> {
  const m = /^\s*(\d+)\s*-\s*(\d+)\s*(?::\s*(\w+)\s*)?$/.exec(text);
  const hint = 'write LOW-HIGH or LOW-HIGH:udp with ports from 1 to 65535, e.g. 20000-29999';
  if (m === null) return invalid(`"${text}" is not a port range`, hint);
  const low = port(m[1]!);
  const high = port(m[2]!);
  if (low === null || high === null) return invalid(`"${text}" has a port out of range`, hint);
  if (low > high) {
    return invalid(`the range "${text}" starts above its end`, `write the lower port first: ${high}-${low}`);
  }
  const p = (m[3] ?? 'tcp').toLowerCase();
  if (p !== 'tcp' && p !== 'udp') return invalid(`unknown protocol "${m[3]}" in "${text}"`, 'use tcp or udp');
  return valid({ low, high, proto: p });
}

/** `22,80,8000-8100`: ports and ranges, expanded, ascending, without duplicates. */
export function parsePortList(text: string): Checked<number[]> {
  const out = new Set<number>();
  const errors: Invalid[] = [];
  for (const raw of text.split(',')) {
    const item = raw.trim();
    const single = port(item);
    if (single !== null) {
      out.add(single);
      continue;
    }
    const r = parsePortRange(item);
    if (!r.ok || item.includes(':')) {
      errors.push({ error: `"${item}" is not a port or a range`, hint: 'list ports and ranges like 22,8000-8100' });
      continue;
    }
    for (let p = r.value.low; p <= r.value.high; p++) out.add(p);
  }
  return errors.length ? { ok: false, errors } : valid([...out].sort((a, b) => a - b));
}

export function parseSequenceLength(text: string): Checked<number> {
  const n = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!(n >= 1 && n <= MAX_SEQUENCE_LENGTH)) {
    return invalid(`Sequence_Length "${text}" is not a number from 1 to ${MAX_SEQUENCE_LENGTH}`, 'use e.g. 3 or 4');
  }
  return valid(n);
}

type SecretKey = 'Sequence_Secret' | 'Sequence_Secret_File' | 'Sequence_Secret_Dir';
type Secret = Omit<NonNullable<TimedDraft['secret']>, 'key' | 'line'>;

/** A secret key: one per door, whichever of the three. */
function secretKey(key: SecretKey, read: (value: string, at: DirectiveAt) => Checked<Secret>): Handler<TimedDraft> {
  return (draft, value, at) => {
    if (draft.secret !== null) {
      const [a, b] = [draft.secret.key, key].sort();
      return refuse(at, `the door has both ${a} and ${b} (line ${draft.secret.line})`,
        a === 'Sequence_Secret_Dir' || b === 'Sequence_Secret_Dir'
          ? 'keep one: Sequence_Secret_File for one shared secret, Sequence_Secret_Dir for one secret per user'
          : 'keep Sequence_Secret_File: a file of mode 600 keeps the secret out of the config');
    }
    const secret = take(read(value, at), at.report);
    if (secret === undefined) return false;
    draft.secret = { key, line: at.line, ...secret };
    return true;
  };
}

function secretFrom(hex: Checked<string>, from: string): Checked<Secret> {
  return hex.ok ? valid({ hex: hex.value, from }) : hex;
}

function parseBind(text: string): Checked<'address' | 'none'> {
  const v = text.trim().toLowerCase();
  return v === 'address' || v === 'none' ? valid(v)
    : invalid(`Sequence_Bind "${text}" is not address or none`, 'write Sequence_Bind = address');
}

const TIMED_KEYS: Readonly<Record<TimedKey, Handler<TimedDraft>>> = {
  Sequence_Secret: secretKey('Sequence_Secret',
    (v, at) => secretFrom(parseSecret(v, 'Sequence_Secret'), `Sequence_Secret at ${at.path}:${at.line}`)),
  Sequence_Secret_File: secretKey('Sequence_Secret_File', (v, at) => {
    const file = pathValue(v, at);
    return secretFrom(readSecretFile(file, at.io), file);
  }),
  Sequence_Secret_Dir: secretKey('Sequence_Secret_Dir', (v, at) => {
    const dir = pathValue(v, at);
    const users = readSecretDir(dir, at.io);
    return users.ok ? valid({ hex: '', from: dir, users: users.value }) : users;
  }),
  Sequence_Length: stored(parseSequenceLength, (d, v) => { d.length = v; }),
  Sequence_Step: stored((v) => parseSeconds(v, 'Sequence_Step', STEP_RANGE), (d, v) => { d.stepMs = v; }),
  Sequence_Ports: stored(parsePortRange, (d, v, at) => { d.ports = { ...v, line: at.line }; }),
  Sequence_Exclude: stored(parsePortList, (d, v) => { d.exclude = v; }),
  Sequence_Bind: stored(parseBind, (d, v, at) => { d.bind = v === 'address' ? { line: at.line } : null; }),
};

export function isTimedKey(name: KeyName): name is TimedKey {
  return Object.hasOwn(TIMED_KEYS, name);
}

/** One Sequence_* directive of a door into its draft. */
export function timedDirective(key: TimedKey, value: string, draft: TimedDraft, at: DirectiveAt): void {
  draft.line ??= at.line;
  if (!TIMED_KEYS[key](draft, value, at)) draft.broken = true;
}

/** The door's time-based settings, or null with problems when they are incomplete (draft.line must be set). */
export function finishTimed(draft: TimedDraft, door: string, path: string, problems: Problems): TimedSequence | null {
  if (draft.broken) return null;
  if (draft.secret === null) {
    problems.add(path, draft.line,
      `door [${door}] has Sequence_* settings but no Sequence_Secret_File or Sequence_Secret_Dir`,
      `add Sequence_Secret_File = /etc/knocklog/${door}.secret (${SECRET_HINT})`);
    return null;
  }
  if (draft.bind !== null && draft.length < 2) {
    problems.add(path, draft.bind.line, `door [${door}] has Sequence_Bind but a sequence of one port`,
      'bind a sequence of 2 or more ports: its first port never depends on the address');
    return null;
  }
  if (draft.ports === null) {
    problems.add(path, draft.line, `door [${door}] has a Sequence secret but no Sequence_Ports`,
      'add a range without services in it, e.g. Sequence_Ports = 20000-29999');
    return null;
  }
  const t: TimedSequence = {
    secretHex: draft.secret.hex, secretFrom: draft.secret.from, length: draft.length, stepMs: draft.stepMs,
    proto: draft.ports.proto, low: draft.ports.low, high: draft.ports.high, exclude: draft.exclude,
    ...(draft.secret.users === undefined ? {} : { users: draft.secret.users }),
    ...(draft.bind === null ? {} : { bind: 'address' as const }),
  };
  const n = availablePorts(t);
  if (n < t.length) {
    problems.add(
      path,
      draft.ports.line,
      `Sequence_Ports ${t.low}-${t.high} has ${n} usable ports, fewer than Sequence_Length ${t.length}`,
      'use a wider range (thousands of ports make a sequence hard to guess)',
    );
    return null;
  }
  return t;
}

const overlaps = (a: TimedSequence, proto: Proto, low: number, high: number) =>
  a.proto === proto && low <= a.high && high >= a.low;

/**
 * Checks time-based doors against the other doors, once all are built, and
 * returns the doors with each range's `exclude` settled. Other doors' static
 * ports inside a range are never drawn (added to `exclude`); one-time entries
 * change as they are used, and two ranges would make one door's sequence
 * another's, so overlapping those is an error.
 */
export function settleTimedDoors(doors: readonly Door[], path: string, problems: Problems): Door[] {
  return doors.map((d, i) => (d.kind === 'timed' ? settleTimedDoor(d, i, doors, path, problems) : d));
}

function settleTimedDoor(
  d: TimedDoor, at: number, doors: readonly Door[], path: string, problems: Problems,
): TimedDoor {
  const t = d.timed;
  const line = Number(d.where.slice(d.where.lastIndexOf(':') + 1));
  const excluded = new Set(t.exclude);
  for (const [i, o] of doors.entries()) {
    if (o === d) continue;
    if (o.kind === 'fixed') {
      for (const s of o.sequence) if (overlaps(t, s.proto, s.port, s.port)) excluded.add(s.port);
    } else if (o.kind === 'oneTime') {
      if (o.oneTime.entries.some((e) => e.sequence.some((s) => overlaps(t, s.proto, s.port, s.port)))) {
        problems.add(
          path,
          line,
          `door [${d.name}]'s Sequence_Ports ${t.low}-${t.high} ` +
            `holds ports of door [${o.name}]'s one_time_sequences`,
          'choose a range apart from the other doors\' ports',
        );
      }
    } else if (overlaps(t, o.timed.proto, o.timed.low, o.timed.high) && i < at) {
      problems.add(
        path,
        line,
        `door [${d.name}]'s Sequence_Ports ${t.low}-${t.high} ` +
          `overlaps door [${o.name}]'s ${o.timed.low}-${o.timed.high}`,
        'give each time-based door a range of its own',
      );
    }
  }
  const settled: TimedSequence = { ...t, exclude: [...excluded].sort((a, b) => a - b) };
  if (availablePorts(settled) < t.length) {
    problems.add(
      path,
      line,
      `door [${d.name}]'s Sequence_Ports ${t.low}-${t.high} ` +
        `has fewer than ${t.length} ports left beside other doors' ports`,
      'use a wider range',
    );
  }
  return { ...d, timed: settled };
}

/** A time-based sequence's settings as text, as the knock client's options give them. */
export interface TimedSettings {
  secretFile: string;
  /** Absent options of the command line come as undefined. */
  length?: string | undefined;
  step?: string | undefined;
  ports: string;
  exclude?: string | undefined;
}

/** The same checks as a door's Sequence_* keys, for settings given outside a config (each error names its option). */
export function timedFromSettings(s: TimedSettings, io: ConfigIO): Checked<TimedSequence> {
  const errors: Invalid[] = [];
  /** Each error names the option it is about. */
  const about = (option: string) => (es: readonly Invalid[]) => {
    errors.push(...es.map((e) => ({ ...e, error: `${option}: ${e.error}` })));
  };
  const secretHex = take(readSecretFile(s.secretFile, io), about('--secret-file')) ?? '';
  const length = s.length === undefined
    ? DEFAULT_TIMED_LENGTH : (take(parseSequenceLength(s.length), about('--length')) ?? 0);
  const stepMs = s.step === undefined
    ? DEFAULT_TIMED_STEP_MS : (take(parseSeconds(s.step, 'the step', STEP_RANGE), about('--step')) ?? 0);
  const range = take(parsePortRange(s.ports), about('--ports'));
  const exclude = s.exclude === undefined ? [] : (take(parsePortList(s.exclude), about('--exclude')) ?? []);
  if (errors.length > 0 || range === undefined) return { ok: false, errors };
  const t: TimedSequence = { secretHex, secretFrom: s.secretFile, length, stepMs, ...range, exclude };
  if (availablePorts(t) < length) {
    return invalid(
      `--ports ${s.ports} has ${availablePorts(t)} usable ports, fewer than the length ${length}`,
      'give the door\'s Sequence_Ports',
    );
  }
  return valid(t);
}
