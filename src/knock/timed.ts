// The knock client for time-based doors: the sequence of the current time step,
// from the door's settings (a config, or the secret file and options).

import { ConfigError, loadConfig, timedFromSettings, type TimedSettings } from '../config/index.js';
import { nodeIO } from '../config/io.js';
import { deriveBoundSequence, deriveSequence, timeStep } from '../totp/index.js';
import type { TimedSequence } from '../types.js';
import { type Hit, KnockUsageError } from './args.js';

/** A time-based door's settings and the secret to knock with (the door's, or one user's). */
export interface TimedKnock {
  t: TimedSequence;
  secretHex: string;
}

/**
 * The time-based door `door` of the config at `path` (read-only: one-time
 * files need not be writable); `user` picks a user's secret on a door with Sequence_Secret_Dir.
 */
export function timedFromConfig(path: string, door: string, user: string | undefined): TimedKnock {
  let doors;
  try {
    doors = loadConfig(path, {}, { requireWritable: false }).doors;
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    throw new KnockUsageError(`${path} has errors:\n${e.message}`);
  }
  const d = doors.find((x) => x.name === door);
  if (d === undefined) {
    const names = doors.map((x) => x.name).join(', ') || 'none';
    throw new KnockUsageError(`${path} has no door [${door}] (doors: ${names})`);
  }
  if (d.kind !== 'timed') {
    throw new KnockUsageError(`door [${door}] of ${path} is not time-based ` +
      '(knock its ports: knocklog knock HOST PORT...)');
  }
  const t = d.timed;
  if (t.users === undefined) {
    if (user !== undefined) throw new KnockUsageError(`door [${door}] has one shared secret: leave out --user`);
    return { t, secretHex: t.secretHex };
  }
  if (user === undefined) {
    throw new KnockUsageError(`door [${door}] has a secret per user in ${t.secretFrom}: give --user NAME`);
  }
  const u = t.users.find((x) => x.name === user);
  if (u === undefined) {
    throw new KnockUsageError(`door [${door}] has no user ${user} (no file ${user} in ${t.secretFrom})`);
  }
  return { t, secretHex: u.secretHex };
}

/** `bound`: --bind was given, so the door binds its sequences (the options cannot say otherwise). */
export function timedFromOptions(s: TimedSettings, bound: boolean): TimedKnock {
  const t = timedFromSettings(s, nodeIO);
  if (!t.ok) throw new KnockUsageError(t.errors.map((e) => `${e.error} (${e.hint})`).join('\n'));
  if (bound && t.value.length < 2) throw new KnockUsageError('--bind needs a sequence of 2 or more ports (--length)');
  return { t: bound ? { ...t.value, bind: 'address' } : t.value, secretHex: t.value.secretHex };
}

/** The hits of the sequence current at `now` (ms); `bind`: the address of a bound door's sequence. */
export function timedHits(k: TimedKnock, now: number, bind: string | null): Hit[] {
  const step = timeStep(now, k.t.stepMs);
  if (k.t.bind === undefined) return deriveSequence(k.t, step, k.secretHex);
  if (bind === null) throw new Error('a bound sequence without an address');
  return deriveBoundSequence(k.t, step, k.secretHex, bind);
}
