import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { canonicalAddress, canonicalIPv4, canonicalIPv6, sourceRefusal } from '../src/net.js';

test('IPv4: dotted quads only, no leading zeros, octets <= 255', () => {
  assert.equal(canonicalIPv4('10.77.0.2'), '10.77.0.2');
  assert.equal(canonicalIPv4('0.0.0.0'), '0.0.0.0');
  for (const bad of ['444.333.222.111', '01.2.3.4', '1.2.3', '1.2.3.4.5', 'source_ip', '', '1.2.3.4 ', '256.1.1.1',
    '1..2.3']) {
    assert.equal(canonicalIPv4(bad), null, bad);
  }
});

test('IPv6: the kernel full form comes out as inet_ntop prints it', () => {
  const cases: [string, string][] = [
    ['fd31:0000:0000:0000:0000:0000:0000:0002', 'fd31::2'],
    ['FE80:0000:0000:0000:0202:B3FF:FE1E:8329', 'fe80::202:b3ff:fe1e:8329'],
    ['2001:0db8:0000:0000:0001:0000:0000:0001', '2001:db8::1:0:0:1'],
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'],
    ['0000:0000:0000:0000:0000:0000:0000:0000', '::'],
    ['0000:0000:0000:0000:0000:0000:0000:0001', '::1'],
    ['0000:0000:0000:0000:0000:ffff:0a00:0001', '::ffff:10.0.0.1'],
    ['1:0:0:1:0:0:0:1', '1:0:0:1::1'],
  ];
  for (const [raw, want] of cases) assert.equal(canonicalIPv6(raw), want, raw);
  for (const bad of [':::', '1::2::3', '12345::', 'g::1', '1:2:3:4:5:6:7', '1:2:3:4:5:6:7:8:9', '::1.2.3',
    'fd31:0000']) {
    assert.equal(canonicalIPv6(bad), null, bad);
  }
});

test('IPv6 canonical form agrees with the WHATWG URL serialiser (RFC 5952) on random addresses', () => {
  const group = fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 0xffff }));
  fc.assert(
    fc.property(fc.array(group, { minLength: 8, maxLength: 8 }), (w) => {
      const full = w.map((g) => g.toString(16).padStart(4, '0')).join(':');
      const mine = canonicalAddress(full);
      const embedsV4 = w.slice(0, 5).every((g) => g === 0) && (w[5] === 0xffff || (w[5] === 0 && (w[6] !== 0)));
      if (embedsV4) return; // glibc prints these with a dotted quad; URL does not
      const url = new URL(`http://[${full}]/`).hostname.slice(1, -1);
      assert.equal(mine, url);
      // canonical is a fixed point
      assert.equal(canonicalAddress(mine!), mine);
    }),
    { numRuns: 2000 },
  );
});

test('sourceRefusal: unspecified, broadcast, multicast, v4-mapped sources never knock; loopback when allowed', () => {
  const never = ['0.0.0.0', '0.255.255.255', '255.255.255.255', '224.0.0.1', '239.255.255.250', '::', 'ff02::1',
    'ff05::1:3', 'ff00::', '::ffff:10.0.0.2', '::ffff:127.0.0.1', '::ffff:0.0.0.0'];
  for (const a of never) {
    assert.equal(canonicalAddress(a), a, a);
    assert.notEqual(sourceRefusal(a, true), null, a);
  }
  for (const a of ['127.0.0.1', '127.255.0.9', '::1']) {
    assert.match(sourceRefusal(a, false) ?? '', /loopback/, a);
    assert.equal(sourceRefusal(a, true), null, a);
  }
  for (const a of ['10.0.0.2', '1.0.0.0', '126.255.255.255', '128.0.0.1', '223.255.255.255', '240.0.0.1',
    '255.255.255.254', 'fd31::2', 'ff::1', 'fe80::1', '2001:db8::1', '::2']) {
    assert.equal(sourceRefusal(a, false), null, a);
  }
});
