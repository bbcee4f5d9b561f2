// The knock client for time-based doors: the sequence of the current time step,
// from the door's settings (a config, or the secret file and options).

import { ConfigError, loadConfig, timedFromSettings, type TimedSettings } from '../config/index.js';
import { nodeIO } from '../config/io.js';
import { deriveSequence, timeStep } from '../totp/index.js';
import type { TimedSequence } from '../types.js';
import { type Hit, KnockUsageError } from './args.js';

/** The time-based door `door` of the config at `path` (read-only: one-time files need not be writable). */
export function timedFromConfig(path: string, door: string): TimedSequence {
  let doors;
  try {
    doors = loadConfig(path, {}, { requireWritable: false }).doors;
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    throw new KnockUsageError(`${path} has errors:\n${e.message}`);
  }
  const d = doors.find((x) => x.name === door);
  if (d === undefined) throw new KnockUsageError(`${path} has no door [${door}] (doors: ${doors.map((x) => x.name).join(', ') || 'none'})`);
  if (d.timed === undefined) throw new KnockUsageError(`door [${door}] of ${path} is not time-based (knock its ports: knocklog knock HOST PORT...)`);
  return d.timed;
}

export function timedFromOptions(s: TimedSettings): TimedSequence {
  const t = timedFromSettings(s, nodeIO);
  if (!t.ok) throw new KnockUsageError(t.errors.map((e) => `${e.error} (${e.hint})`).join('\n'));
  return t.value;
}

/** The hits of the sequence current at `now` (ms). */
export function timedHits(t: TimedSequence, now: number): Hit[] {
  return deriveSequence(t, timeStep(now, t.stepMs));
}
