// Address literals, strictly: a value that becomes %IP% in a shell command
// must be an address and nothing else.

const OCTET = /(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)/.source;
const IPV4 = new RegExp(String.raw`^${OCTET}\.${OCTET}\.${OCTET}\.${OCTET}$`);
const HEXGROUP = /^[0-9a-fA-F]{1,4}$/;

/** A dotted quad without leading zeros, as the kernel prints it; null otherwise. */
export function canonicalIPv4(s: string): string | null {
  return IPV4.test(s) ? s : null;
}

const FULL_IPV6 = /^[0-9a-fA-F]{4}(?::[0-9a-fA-F]{4}){7}$/;

/** Parses an IPv6 literal (full, compressed, or with a trailing dotted quad) into 8 groups. */
export function ipv6Groups(s: string): number[] | null {
  // The kernel's own form (every group in 4 digits), without the general parser's allocations.
  if (s.length === 39 && FULL_IPV6.test(s)) {
    const w = new Array<number>(8);
    for (let i = 0; i < 8; i++) w[i] = parseInt(s.slice(i * 5, i * 5 + 4), 16);
    return w;
  }
  if (s.length < 2 || s.length > 45) return null;
  let head = s;
  let tail4: number[] = [];
  const lastColon = s.lastIndexOf(':');
  if (s.includes('.', lastColon)) {
    const v4 = canonicalIPv4(s.slice(lastColon + 1));
    if (v4 === null) return null;
    const o = v4.split('.').map(Number) as [number, number, number, number];
    tail4 = [(o[0] << 8) | o[1], (o[2] << 8) | o[3]];
    head = s.slice(0, lastColon + 1);
    // "::1.2.3.4" keeps its "::"; "a:b:c:d:e:f:1.2.3.4" drops the trailing ':'.
    if (!head.endsWith('::')) head = head.slice(0, -1);
  }
  const want = 8 - tail4.length;
  const parts = head.split('::');
  if (parts.length > 2) return null;
  const side = (p: string): number[] | null => {
    if (p === '') return [];
    const out: number[] = [];
    for (const g of p.split(':')) {
      if (!HEXGROUP.test(g)) return null;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  const left = side(parts[0] ?? '');
  if (left === null) return null;
  if (parts.length === 1) return left.length === want ? [...left, ...tail4] : null;
  const right = side(parts[1] ?? '');
  if (right === null) return null;
  const zeros = want - left.length - right.length;
  if (zeros < 1) return null;
  return [...left, ...new Array<number>(zeros).fill(0), ...right, ...tail4];
}

/**
 * Writes 8 groups as glibc's inet_ntop does (RFC 5952, embedded IPv4 for
 * ::ffff:a.b.c.d and ::a.b.c.d) into `out` from `p`, at most 45 bytes;
 * returns the end. Bytes, so that `knocklog parse` can print an address
 * without making a string of it.
 */
export function writeIPv6(w: readonly number[], out: Uint8Array, p: number): number {
  let bestBase = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (w[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && w[j] === 0) j++;
    if (j - i > bestLen) { bestBase = i; bestLen = j - i; }
    i = j;
  }
  if (bestLen < 2) bestBase = -1;
  for (let i = 0; i < 8; i++) {
    if (bestBase !== -1 && i >= bestBase && i < bestBase + bestLen) {
      if (i === bestBase) out[p++] = 58; /* : */
      continue;
    }
    if (i !== 0) out[p++] = 58;
    if (i === 6 && bestBase === 0 && (bestLen === 6 || (bestLen === 5 && w[5] === 0xffff))) {
      const a = w[6] ?? 0;
      const b = w[7] ?? 0;
      p = writeByte(out, p, a >> 8);
      out[p++] = 46; /* . */
      p = writeByte(out, p, a & 255);
      out[p++] = 46;
      p = writeByte(out, p, b >> 8);
      out[p++] = 46;
      return writeByte(out, p, b & 255);
    }
    const g = w[i] ?? 0;
    // Lowercase hex without leading zeros.
    for (let shift = g > 0xfff ? 12 : g > 0xff ? 8 : g > 0xf ? 4 : 0; shift >= 0; shift -= 4) {
      const d = (g >> shift) & 15;
      out[p++] = d < 10 ? 48 + d : 87 + d;
    }
  }
  if (bestBase !== -1 && bestBase + bestLen === 8) out[p++] = 58;
  return p;
}

/** A byte's value in decimal. */
function writeByte(out: Uint8Array, p: number, n: number): number {
  if (n >= 100) out[p++] = 48 + Math.floor(n / 100);
  if (n >= 10) out[p++] = 48 + (Math.floor(n / 10) % 10);
  out[p++] = 48 + (n % 10);
  return p;
}

const text = Buffer.alloc(45);

/** writeIPv6's text as a string. */
export function formatIPv6(w: readonly number[]): string {
  return text.toString('latin1', 0, writeIPv6(w, text, 0));
}

/** The canonical (inet_ntop) form of an IPv6 literal; null if it is not one. */
export function canonicalIPv6(s: string): string | null {
  const w = ipv6Groups(s);
  return w === null ? null : formatIPv6(w);
}

/** The canonical form of an IPv4 or IPv6 literal; null if it is neither. */
export function canonicalAddress(s: string): string | null {
  return s.includes(':') ? canonicalIPv6(s) : canonicalIPv4(s);
}

export function isIPv6(canonical: string): boolean {
  return canonical.includes(':');
}

/** The longest canonical address: eight groups of four hex digits (what %IP% may grow to). */
export const MAX_ADDRESS_LENGTH = 39;

/** `::ffff:a.b.c.d`: an IPv4 address written as IPv6 (canonical form). */
export function isIPv4Mapped(canonical: string): boolean {
  return canonical.startsWith('::ffff:') && canonical.includes('.');
}

export function isLoopback(canonical: string): boolean {
  return canonical === '::1' || canonical.startsWith('127.');
}

/**
 * Why a canonical address can be no knocker (nor %IP%), or null when it can be
 * one. The kernel drops packets from such sources before the firewall sees
 * them (Linux's martian sources; an IPv6 packet from a v4-mapped source), so
 * a record carrying one is forged or garbled. Loopback is a real source only
 * for a door whose Target is itself a loopback address (`loopbackOk`).
 */
export function sourceRefusal(canonical: string, loopbackOk: boolean): string | null {
  if (isIPv6(canonical)) {
    if (canonical === '::') return 'the unspecified address';
    if (/^ff[0-9a-f]{2}:/.test(canonical)) return 'a multicast address (ff00::/8)';
    if (isIPv4Mapped(canonical)) return 'an IPv4-mapped address (::ffff:0:0/96), which no IPv6 packet carries';
  } else {
    const first = Number(canonical.slice(0, canonical.indexOf('.')));
    if (first === 0) return 'an address of "this network" (0.0.0.0/8)';
    if (first >= 224 && first <= 239) return 'a multicast address (224.0.0.0/4)';
    if (canonical === '255.255.255.255') return 'the broadcast address';
  }
  if (!loopbackOk && isLoopback(canonical)) return "a loopback address, and the door's Target is not one";
  return null;
}
