// `knocklog knock --bind`: the address a bound door's sequence is derived for.
// It must be the source address the server sees, which the client can only
// guess: `auto` takes the address this host sends from, right unless a NAT
// rewrites it on the way.

import { createSocket } from 'node:dgram';
import { canonicalAddress, isIPv6 } from '../net.js';
import { KnockUsageError } from './args.js';

/** Private, shared (CGNAT), link-local and unique-local ranges: a packet from there is usually NATed on its way out. */
const NATED = [
  /^10\./, /^192\.168\./, /^172\.(1[6-9]|2\d|3[01])\./, /^100\.(6[4-9]|[7-9]\d|1[01]\d|12[0-7])\./, /^169\.254\./,
  /^f[cd][0-9a-f]{2}:/, /^fe[89ab][0-9a-f]:/,
];

export function likelyNated(addr: string): boolean {
  return NATED.some((re) => re.test(addr));
}

/** The local address the kernel picks to reach `host`: a connected UDP socket's (connecting sends nothing). */
export function localAddressTo(host: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = createSocket(isIPv6(host) ? 'udp6' : 'udp4');
    sock.once('error', (e) => {
      sock.close();
      reject(new KnockUsageError(`--bind auto: no route to ${host}: ${e.message} (give --bind ADDR)`));
    });
    // Port 9 (discard): any port would do, nothing is sent.
    sock.connect(9, host, () => {
      const a = sock.address().address;
      sock.close();
      resolve(canonicalAddress(a) ?? a);
    });
  });
}

/**
 * The canonical address of `--bind SPEC` for knocking `host`, and a warning
 * for stderr when `auto` found an address that a NAT probably rewrites.
 */
export async function bindAddress(spec: string, host: string): Promise<{ address: string; warning: string | null }> {
  if (spec === 'auto') {
    const address = await localAddressTo(host);
    const warning = likelyNated(address) && !likelyNated(host)
      ? `--bind auto: the sequence is bound to ${address}, this host's address towards ${host}. ` +
        'Behind NAT the server sees the public address instead, and this sequence opens nothing: ' +
        'then pass the public address with --bind ADDR'
      : null;
    return { address, warning };
  }
  const address = canonicalAddress(spec);
  if (address === null) throw new KnockUsageError(`--bind ${spec} is not an IPv4 or IPv6 address (or auto)`);
  if (isIPv6(address) !== isIPv6(host)) {
    throw new KnockUsageError(`--bind ${spec} is not of ${host}'s family: the server sees an address of the family ` +
      'knocked');
  }
  return { address, warning: null };
}
