// The host's own addresses: doors without Target listen on them. knockd read
// them once at start; interfaces come and go, so they are re-read.

import { networkInterfaces } from 'node:os';
import { canonicalAddress } from '../net.js';

const REFRESH_MS = 5000;

export function hostAddresses(now: () => number = Date.now): (addr: string) => boolean {
  let set = new Set<string>();
  let readAt = -Infinity;
  const read = () => {
    set = new Set();
    for (const list of Object.values(networkInterfaces())) {
      for (const a of list ?? []) {
        const c = canonicalAddress(a.address.replace(/%.*$/, ''));
        if (c !== null) set.add(c);
      }
    }
    readAt = now();
  };
  return (addr) => {
    if (now() - readAt > REFRESH_MS || (!set.has(addr) && now() - readAt > 100)) read();
    return set.has(addr);
  };
}
