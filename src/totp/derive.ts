// A time-based door's sequence for one time step: distinct ports of its range
// drawn from HMAC-SHA256(secret, step), so that whoever holds the secret (and
// only they) can compute it, and a sequence seen once is worth nothing later.

import type { SequenceStep, TimedSequence } from '../types.js';
import { counterBytes, hmac } from './hotp.js';

/** Ports of the range that may be drawn (the range without its excluded ports). */
export function availablePorts(t: Pick<TimedSequence, 'low' | 'high' | 'exclude'>): number {
  return t.high - t.low + 1 - t.exclude.filter((p) => p >= t.low && p <= t.high).length;
}

/** The i-th (0-based) available port: low + i, moved past every excluded port at or below it. */
function nthPort(t: TimedSequence, i: number): number {
  let port = t.low + i;
  // `exclude` is ascending, so one pass moves the port past each excluded one.
  for (const ex of t.exclude) if (ex >= t.low && ex <= port) port++;
  return port;
}

/** More bytes than a sequence needs is unheard of; a cap keeps a bug from looping forever. */
const MAX_BLOCKS = 1024;

/**
 * The sequence of time step `step`. Successive 32-bit big-endian chunks of
 * HMAC(secret, step as 8 bytes), then of HMAC(secret, step || i as 4 bytes)
 * for i = 1, 2, ..., each taken modulo the number of available ports; a port
 * already drawn is skipped. (The modulo bias is below 2^-16 for any range.)
 */
export function deriveSequence(t: TimedSequence, step: number): SequenceStep[] {
  const secret = Buffer.from(t.secretHex, 'hex');
  const n = availablePorts(t);
  if (n < t.length) throw new Error(`the port range has ${n} usable ports, fewer than ${t.length}`);
  const counter = counterBytes(step);
  const ports: number[] = [];
  for (let block = 0; ports.length < t.length; block++) {
    if (block === MAX_BLOCKS) throw new Error('no distinct ports after too many HMAC blocks');
    const index = Buffer.alloc(4);
    index.writeUInt32BE(block);
    const mac = hmac(secret, block === 0 ? counter : Buffer.concat([counter, index]));
    for (let off = 0; off + 4 <= mac.length && ports.length < t.length; off += 4) {
      const port = nthPort(t, mac.readUInt32BE(off) % n);
      if (!ports.includes(port)) ports.push(port);
    }
  }
  return ports.map((port) => ({ proto: t.proto, port }));
}
