// Which time steps a time-based door accepts.

import type { TimedSequence } from '../types.js';
import { timeStep } from './hotp.js';

/** Steps accepted around the current one: one before and one after, for clock skew. */
export const STEP_SKEW = 1;

/**
 * Why a time-based door must not open for `step` at time `now`, or null when
 * it may: the step must be a whole number within the skew of `now`'s step,
 * and not used before. The engine and the executor both ask (the executor
 * trusts nothing the reader says).
 */
export function stepRefusal(
  step: number | undefined,
  used: ReadonlySet<number>,
  stepMs: number,
  now: number,
): string | null {
  if (step === undefined || !Number.isSafeInteger(step)) return 'the request names no time step';
  const current = timeStep(now, stepMs);
  if (Math.abs(step - current) > STEP_SKEW) {
    return `time step ${step} is not within ${STEP_SKEW} of the current step ${current} (check the clocks)`;
  }
  if (used.has(step)) return `the sequence of time step ${step} was used already (a replay?)`;
  return null;
}

/** One door's (and user's) used steps; `user` absent for a door with one shared secret. */
export interface UsedSteps {
  door: string;
  user?: string;
  steps: number[];
}

/** Door names and user names hold no NUL: one string keys a door's or a user's used steps. */
export function usedKey(door: string, user: string | null): string {
  return user === null ? door : `${door}\u0000${user}`;
}

export function splitUsedKey(key: string): { door: string; user?: string } {
  const i = key.indexOf('\u0000');
  return i < 0 ? { door: key } : { door: key.slice(0, i), user: key.slice(i + 1) };
}

/**
 * Why `user` (named by a request) may not open a door with these settings, or
 * null: a door with one secret has no users; on a door with a secret per user,
 * the user must have one now (the executor asks: the reader may have completed
 * a revoked user's knock before a reload reached it).
 */
export function userRefusal(timed: TimedSequence, user: string | undefined): string | null {
  if (timed.users === undefined) return user === undefined ? null : `the door has one shared secret, no user ${user}`;
  if (user === undefined) return `the request names no user (the door has a secret per user in ${timed.secretFrom})`;
  if (!timed.users.some((u) => u.name === user)) return `user ${user} has no secret in ${timed.secretFrom} (revoked?)`;
  return null;
}
