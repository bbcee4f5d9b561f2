// Knock sequences: `port[:tcp|udp],...` as in knockd's Sequence directive and
// one_time_sequences lines. knockd reads each port with atoi, so `abc` is port 0
// and `-1` is 65535; here every item must be a real port or the whole line is rejected.

import type { Proto, SequenceStep } from '../types.js';
import { type Checked, type Invalid, invalid, valid } from './errors.js';

/** knockd's SEQ_MAX. */
export const MAX_SEQUENCE_LENGTH = 32;

const EXAMPLE = 'list ports like 7000,8000:udp,9000';

function parseStep(item: string): Checked<SequenceStep> {
  const parts = item.split(':');
  const port = (parts[0] ?? '').trim();
  if (parts.length > 2) {
    return invalid(`"${item}" has more than one ":"`, 'write PORT or PORT:tcp or PORT:udp');
  }
  let proto: Proto = 'tcp';
  if (parts.length === 2) {
    const p = (parts[1] ?? '').trim().toLowerCase();
    if (p !== 'tcp' && p !== 'udp') {
      return invalid(`unknown protocol "${(parts[1] ?? '').trim()}" in "${item}"`, 'use tcp or udp');
    }
    proto = p;
  }
  if (!/^\d+$/.test(port)) {
    const hint = /\d\s+\d/.test(port) ? 'separate ports with commas' : 'use a port number from 1 to 65535';
    return invalid(`"${port}" is not a port number`, hint);
  }
  const n = Number(port);
  if (n < 1 || n > 65535) return invalid(`port ${port} is out of range`, 'use a port number from 1 to 65535');
  return valid({ proto, port: n });
}

/** Parses `7000,8000:udp,9000`; items are trimmed and the protocol is case-insensitive. */
export function parseSequence(text: string): Checked<SequenceStep[]> {
  if (text.trim() === '') return invalid('empty sequence', EXAMPLE);
  const items = text.split(',');
  const steps: SequenceStep[] = [];
  const errors: Invalid[] = [];
  let emptyItem = false;
  for (const raw of items) {
    const item = raw.trim();
    if (item === '') {
      // knockd turns an empty item into port 0; one message per sequence is enough.
      if (!emptyItem) {
        errors.push({ error: `sequence "${text.trim()}" has an empty item`, hint: 'remove the extra comma' });
      }
      emptyItem = true;
      continue;
    }
    const step = parseStep(item);
    if (step.ok) steps.push(step.value);
    else errors.push(...step.errors);
  }
  if (items.length > MAX_SEQUENCE_LENGTH) {
    errors.push({
      error: `the sequence has ${items.length} ports`,
      hint: `knockd allows at most ${MAX_SEQUENCE_LENGTH}`,
    });
  }
  return errors.length ? { ok: false, errors } : valid(steps);
}

/** `7000:tcp,8000:udp,9000:tcp`, the form knockd's debug output prints. */
export function formatSequence(steps: readonly SequenceStep[]): string {
  return steps.map((s) => `${s.port}:${s.proto}`).join(',');
}
