// The knock client (knockd's `knock`; the README, `knocklog knock`): send the
// hits in order, optionally wait for the door to open.

import { lookup } from 'node:dns/promises';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { canonicalAddress, isIPv6 } from '../net.js';
import { type Hit, KnockUsageError } from './args.js';
import { sendHit } from './send.js';

export { type Hit, KnockUsageError, parseHit, parseMs, parseWaitPort } from './args.js';
export { loadServices, parseServices, resolvePort, type Services } from './services.js';
export { type WaitOptions, waitForPort } from './wait.js';

export type FamilyChoice = 4 | 6 | 0;

/** HOST as one address literal of the forced family (0: whichever the resolver gives first). */
export async function resolveHost(host: string, family: FamilyChoice): Promise<string> {
  // The resolver answers '' with no address at all, not an error.
  if (host.trim() === '') throw new KnockUsageError('empty host (give a host name or an address)');
  const literal = canonicalAddress(host.replace(/^\[(.*)\]$/, '$1'));
  if (literal !== null) {
    if (family !== 0 && isIPv6(literal) !== (family === 6)) {
      throw new KnockUsageError(
        `${host} is an IPv${family === 4 ? 6 : 4} address, but -${family} asks for IPv${family}`,
      );
    }
    return literal;
  }
  try {
    const { address } = await lookup(host, { family });
    return canonicalAddress(address) ?? address;
  } catch (e) {
    const what = family === 0 ? 'an address' : `an IPv${family} address`;
    const why = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    throw new KnockUsageError(`cannot resolve ${host} to ${what}: ${why} (check the host name)`);
  }
}

export interface KnockOptions {
  /** ms to wait after every hit. */
  delayMs: number;
  /** Called for each hit before it is sent (-v). */
  onHit?: (hit: Hit) => void;
  /** Called when sending a hit failed; knocking goes on, as in knock. */
  onError?: (hit: Hit, e: Error) => void;
}

/** Sends the hits in order; resolves with performance.now() after the last one. */
export async function knock(address: string, hits: readonly Hit[], o: KnockOptions): Promise<number> {
  let last = performance.now();
  for (const hit of hits) {
    o.onHit?.(hit);
    const e = await sendHit(address, hit);
    last = performance.now();
    if (e !== null) o.onError?.(hit, e);
    if (o.delayMs > 0) await sleep(o.delayMs);
  }
  return last;
}

