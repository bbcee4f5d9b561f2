// The HMAC, time-step and derivation parts of time-based sequences.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { availablePorts, decodeBase32, deriveSequence, encodeBase32, hotp, timeStep } from '../src/totp/index.js';
import type { TimedSequence } from '../src/types.js';

// RFC 6238 Appendix B: (time, TOTP) with T0 = 0, X = 30 s, 8 digits.
const TIMES = [59, 1111111109, 1111111111, 1234567890, 2000000000, 20000000000];
const VECTORS = {
  sha1: {
    secret: '12345678901234567890', totps: ['94287082', '07081804', '14050471', '89005924', '69279037', '65353130'] },
  sha256: {
    secret: '12345678901234567890123456789012',
    totps: ['46119246', '68084774', '67062674', '91819424', '90698825', '77737706'] },
  sha512: {
    secret: '1234567890123456789012345678901234567890123456789012345678901234',
    totps: ['90693936', '25091201', '99943326', '93441116', '38618901', '47863826'],
  },
} as const;

test("RFC 6238 Appendix B's test vectors reproduce (HMAC, counter bytes, dynamic truncation, time step)", () => {
  for (const [algorithm, v] of Object.entries(VECTORS)) {
    const got = TIMES.map((t) =>
      hotp(Buffer.from(v.secret, 'ascii'), timeStep(t * 1000, 30_000), 8, algorithm as keyof typeof VECTORS));
    assert.deepEqual(got, v.totps, algorithm);
  }
});

test('base32: RFC 4648 test vectors, any case, padding optional, bad text refused', () => {
  const pairs = [['', ''], ['f', 'MY======'], ['fo', 'MZXQ===='], ['foo', 'MZXW6==='], ['foob', 'MZXW6YQ='],
    ['fooba', 'MZXW6YTB'], ['foobar', 'MZXW6YTBOI======']];
  for (const [plain, coded] of pairs) {
    assert.equal(decodeBase32(coded!)?.toString('ascii'), plain);
    assert.equal(decodeBase32(coded!.replace(/=/g, '').toLowerCase())?.toString('ascii'), plain);
    assert.equal(encodeBase32(Buffer.from(plain!, 'ascii')), coded!.replace(/=/g, ''));
  }
  assert.equal(decodeBase32('MZXW 6YTB-OI')?.toString('ascii'), 'foobar');
  for (const bad of ['MZXW1', 'MZ!W', 'M', 'MZXW6YTBO']) assert.equal(decodeBase32(bad), null, bad);
  fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), (bytes) => {
    assert.deepEqual(decodeBase32(encodeBase32(bytes)), Buffer.from(bytes));
  }));
});

const spec = (o: Partial<TimedSequence> = {}): TimedSequence => ({
  secretHex: Buffer.from('12345678901234567890123456789012').toString('hex'), secretFrom: 'test', length: 3,
  stepMs: 30_000,
  proto: 'tcp', low: 20000, high: 29999, exclude: [], ...o,
});

test('a derived sequence: distinct ports of the range, none excluded, the same for the same step', () => {
  fc.assert(fc.property(
    fc.integer({ min: 1, max: 65535 }), fc.integer({ min: 0, max: 300 }), fc.integer({ min: 1, max: 32 }),
    fc.array(fc.integer({ min: 0, max: 300 }), { maxLength: 20 }), fc.nat({ max: 2 ** 40 }),
    fc.uint8Array({ minLength: 16, maxLength: 40 }),
    (low, width, length, offsets, step, secret) => {
      const high = Math.min(65535, low + width);
      const exclude = [...new Set(offsets.map((o) => low + o))].sort((a, b) => a - b);
      const t = spec({ low, high, length, exclude, secretHex: Buffer.from(secret).toString('hex') });
      fc.pre(availablePorts(t) >= length);
      const ports = deriveSequence(t, step).map((s) => s.port);
      assert.equal(ports.length, length);
      assert.equal(new Set(ports).size, length);
      for (const p of ports) assert.ok(p >= low && p <= high && !exclude.includes(p), `${p}`);
      assert.deepEqual(deriveSequence(t, step).map((s) => s.port), ports);
    },
  ));
});

test('neighbouring steps and different secrets give different sequences; the protocol is the range\'s', () => {
  const t = spec({ proto: 'udp' });
  const seqs = [0, 1, 2, 3].map((n) => JSON.stringify(deriveSequence(t, 55_000_000 + n)));
  assert.equal(new Set(seqs).size, 4);
  assert.notEqual(JSON.stringify(deriveSequence(spec({ secretHex: 'ab'.repeat(16) }), 1)),
    JSON.stringify(deriveSequence(t, 1)));
  assert.ok(deriveSequence(t, 7).every((s) => s.proto === 'udp'));
  // A range exactly as large as the sequence still yields every port once.
  assert.deepEqual(deriveSequence(spec({ low: 100, high: 104, length: 4, exclude: [102] }), 9).map((s) => s.port)
    .sort(), [100, 101, 103, 104]);
});
