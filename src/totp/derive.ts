// A time-based door's sequence for one time step: distinct ports of its range
// drawn from HMAC-SHA256(secret, step), so that whoever holds the secret (and
// only they) can compute it, and a sequence seen once is worth nothing later.
// A bound door (Sequence_Bind = address) draws all ports but the first from
// the knocking address as well: the sequence opens nothing from elsewhere.

import { ipv6Groups, isIPv6 } from '../net.js';
import type { SequenceStep, TimedSequence } from '../types.js';
import { counterBytes, hmac } from './hotp.js';

type Range = Pick<TimedSequence, 'low' | 'high' | 'exclude'>;

/** Ports of the range that may be drawn (the range without its excluded ports). */
export function availablePorts(t: Range): number {
  return t.high - t.low + 1 - t.exclude.filter((p) => p >= t.low && p <= t.high).length;
}

/** The i-th (0-based) available port: low + i, moved past every excluded port at or below it. */
function nthPort(t: Range, i: number): number {
  let port = t.low + i;
  // `exclude` is ascending, so one pass moves the port past each excluded one.
  for (const ex of t.exclude) if (ex >= t.low && ex <= port) port++;
  return port;
}

/** More bytes than a sequence needs is unheard of; a cap keeps a bug from looping forever. */
const MAX_BLOCKS = 1024;

/**
 * Adds distinct ports to `ports` until it holds `length`: successive 32-bit
 * big-endian chunks of HMAC(secret, message(0)), HMAC(secret, message(1)), ...
 * each taken modulo the number of available ports; a port already drawn is skipped.
 */
function draw(t: Range, secret: Buffer, message: (block: number) => Buffer, length: number, ports: number[]): void {
  const n = availablePorts(t);
  if (n < length) throw new Error(`the port range has ${n} usable ports, fewer than ${length}`);
  for (let block = 0; ports.length < length; block++) {
    if (block === MAX_BLOCKS) throw new Error('no distinct ports after too many HMAC blocks');
    const mac = hmac(secret, message(block));
    for (let off = 0; off + 4 <= mac.length && ports.length < length; off += 4) {
      const port = nthPort(t, mac.readUInt32BE(off) % n);
      if (!ports.includes(port)) ports.push(port);
    }
  }
}

const u32 = (i: number): Buffer => {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(i);
  return b;
};

/** The unbound messages: step as 8 bytes, then step || i as 4 bytes for block i >= 1. */
function stepMessage(step: number): (block: number) => Buffer {
  const counter = counterBytes(step);
  return (block) => (block === 0 ? counter : Buffer.concat([counter, u32(block)]));
}

/** A canonical address as bytes: 4 for IPv4, 16 for IPv6 (each group big-endian). */
export function addressBytes(addr: string): Buffer {
  if (!isIPv6(addr)) return Buffer.from(addr.split('.').map(Number));
  const groups = ipv6Groups(addr);
  if (groups === null) throw new Error(`${addr} is not an IPv6 address`);
  const out = Buffer.alloc(16);
  for (const [i, g] of groups.entries()) out.writeUInt16BE(g, 2 * i);
  return out;
}

/** The bound messages: step (8 bytes) || family (one byte, 4 or 6) || address || i (4 bytes), i = 0, 1, ... */
function boundMessage(step: number, addr: string): (block: number) => Buffer {
  const head = Buffer.concat([counterBytes(step), Buffer.from([isIPv6(addr) ? 6 : 4]), addressBytes(addr)]);
  return (block) => Buffer.concat([head, u32(block)]);
}

/** Whose sequence: a secret (the door's, or a user's) in hex. */
const secretOf = (hex: string) => Buffer.from(hex, 'hex');

/**
 * The unbound sequence of time step `step`, from `secretHex` (by default the
 * door's one secret). A bound door's first port is this sequence's first port.
 */
export function deriveSequence(t: TimedSequence, step: number, secretHex: string = t.secretHex): SequenceStep[] {
  const ports: number[] = [];
  draw(t, secretOf(secretHex), stepMessage(step), t.length, ports);
  return ports.map((port) => ({ proto: t.proto, port }));
}

/** The first port of step `step`'s sequence: of a bound door, the one that does not depend on the address. */
export function firstPort(t: TimedSequence, step: number, secretHex: string): number {
  const ports: number[] = [];
  draw(t, secretOf(secretHex), stepMessage(step), 1, ports);
  return ports[0] ?? t.low;
}

/**
 * The sequence of step `step` for a knock from `addr` (canonical): the first
 * port from the step alone, the others from HMAC(secret, boundMessage), not
 * repeating the first.
 */
export function deriveBoundSequence(t: TimedSequence, step: number, secretHex: string, addr: string): SequenceStep[] {
  const ports = [firstPort(t, step, secretHex)];
  draw(t, secretOf(secretHex), boundMessage(step, addr), t.length, ports);
  return ports.map((port) => ({ proto: t.proto, port }));
}
