// The HMAC and time-step parts of TOTP (RFC 4226, RFC 6238), on node:crypto.

import { createHmac } from 'node:crypto';

export type HmacAlgorithm = 'sha1' | 'sha256' | 'sha512';

/** A counter as RFC 4226's 8-byte big-endian moving factor. */
export function counterBytes(counter: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeBigUInt64BE(BigInt(counter));
  return b;
}

export function hmac(secret: Uint8Array, message: Uint8Array, algorithm: HmacAlgorithm = 'sha256'): Buffer {
  return createHmac(algorithm, secret).update(message).digest();
}

/** RFC 4226 §5.3 dynamic truncation: 31 bits at the offset the last nibble names. */
export function truncate(mac: Buffer): number {
  const offset = mac[mac.length - 1]! & 0x0f;
  return mac.readUInt32BE(offset) & 0x7fffffff;
}

/** An HOTP value of `digits` decimal digits (zero-padded), e.g. RFC 6238's 8-digit TOTPs. */
export function hotp(secret: Uint8Array, counter: number, digits: number, algorithm: HmacAlgorithm = 'sha256'): string {
  const code = truncate(hmac(secret, counterBytes(counter), algorithm)) % 10 ** digits;
  return String(code).padStart(digits, '0');
}

/** The time step `ms` falls in (RFC 6238's T, with T0 = 0). */
export function timeStep(ms: number, stepMs: number): number {
  return Math.floor(ms / stepMs);
}
