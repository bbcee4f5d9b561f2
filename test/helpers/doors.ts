// Reading a door of a parsed config in a test, by its kind: a door of another kind fails the test.

import type { Door, OneTimeSequences, SequenceStep, TimedSequence } from '../../src/types.js';

export function timedOf(d: Door | undefined): TimedSequence {
  if (d?.kind !== 'timed') throw new Error(`door ${d?.name ?? '(none)'} is not time-based`);
  return d.timed;
}

export function oneTimeOf(d: Door | undefined): OneTimeSequences {
  if (d?.kind !== 'oneTime') throw new Error(`door ${d?.name ?? '(none)'} is not a one-time door`);
  return d.oneTime;
}

/** The sequence to knock now: a fixed door's, or a one-time door's current one ([] when none is left). */
export function sequenceOf(d: Door | undefined): readonly SequenceStep[] {
  if (d?.kind === 'fixed') return d.sequence;
  return oneTimeOf(d).entries[0]?.sequence ?? [];
}
