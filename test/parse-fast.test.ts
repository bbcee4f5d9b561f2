process.env['TZ'] = 'UTC'; // year-less syslog stamps are local time; pin the zone before any Date is made

// The byte-level fast path (src/parse/fast.ts) against the strict parser:
// every line it takes, parseLine accepts with the same event and the same
// JSON bytes; every other line goes to parseLine.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { LineSink } from '../src/print/line-sink.js';
import { eventJson } from '../src/parse/event-json.js';
import { fastLineFor, parseLineFast } from '../src/parse/fast.js';
import { parseLine, type Format, type ParseOptions } from '../src/parse/index.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const fixtures = `${root}test/fixtures/parse/`;
const corpus = fileURLToPath(new URL('../../../shared/log-corpus/', import.meta.url));
// One instant in each half of a year boundary: the fast path's stamp cache must follow `now`.
const NOWS = [new Date('2026-11-24T12:00:00Z'), new Date('2027-01-05T00:00:00Z')];

interface Tally {
  fast: number;
  strict: number;
}

/**
 * Runs `line` through both parsers: through parseLineFast (a string, as the
 * daemon's reader has it) and through the byte scan at an offset inside a
 * larger buffer with other bytes around it (as parseChunk has it).
 */
function same(line: string, opts: ParseOptions, tally: Tally, around = Buffer.from('KNOCK IN= 0 ')): void {
  const strict = parseLine(line, opts);
  assert.deepEqual(parseLineFast(line, opts), strict, line);
  const fast = fastLineFor(opts);
  if (fast === null) return;
  const bytes = Buffer.from(line, 'utf8');
  const buf = Buffer.concat([around, bytes, around]);
  if (!fast.scan(buf, around.length, around.length + bytes.length, opts.now)) {
    tally.strict++;
    return;
  }
  tally.fast++;
  assert.ok(strict.ok, `the fast path took a line the strict parser rejects (${strict.ok || strict.reason}): ${line}`);
  assert.deepEqual(fast.event(), strict.event, line);
  const sink = new LineSink(8);
  sink.line('before');
  fast.json(sink);
  assert.equal(sink.bytes().toString('latin1'), `before\n${eventJson(strict.event)}\n`, line);
}

// Lines of the shapes the fast path takes, with every field drawn from values
// around its limits: mostly valid, sometimes out of range, with leading zeros,
// in the wrong case or missing (one field in 20).
const pick = <T>(...xs: T[]) => fc.constantFrom(...xs);
const or = <T>(valid: fc.Arbitrary<T>, invalid: fc.Arbitrary<T>) =>
  fc.oneof({ arbitrary: valid, weight: 19 }, { arbitrary: invalid, weight: 1 });
const num = (max: number) =>
  or(
    fc.oneof(fc.integer({ min: 0, max }).map(String), pick('0', String(max))),
    pick('00', '01', String(max + 1), '4294967296', '99999999999', '', '1x', '-1'),
  );
const p2 = (n: number) => String(n).padStart(2, '0');
const frac = fc.oneof(pick(''), or(fc.stringMatching(/^\.\d{1,9}$/), pick('.', '.1234567890')));
const bsd = fc
  .tuple(
    or(pick('Jan', 'Feb', 'Mar', 'Nov', 'Dec'), pick('Foo', 'nov')),
    or(fc.integer({ min: 1, max: 31 }), pick(0, 32)),
    or(pick(' '), pick('  ', '')),
    or(fc.integer({ min: 0, max: 23 }), pick(24, 25)),
    or(fc.integer({ min: 0, max: 59 }), pick(60, 61)),
    or(fc.integer({ min: 0, max: 59 }), pick(60, 61)),
    frac,
  )
  .map(([m, d, sp, h, mi, s, f]) => `${m}${sp}${d < 10 && sp === ' ' ? ' ' : ''}${d} ${p2(h)}:${p2(mi)}:${p2(s)}${f}`);
const iso = fc
  .tuple(
    pick(1970, 2026, 2027, 9999),
    or(fc.integer({ min: 1, max: 12 }), pick(0, 13)),
    or(fc.integer({ min: 1, max: 31 }), pick(0, 32)),
    or(fc.integer({ min: 0, max: 23 }), pick(24)),
    or(fc.integer({ min: 0, max: 59 }), pick(60)),
    frac,
    or(pick('Z', '+00:00', '-05:00', '+0530'), pick('+02', 'z', '', '+99:99')),
  )
  .map(([y, mo, d, h, mi, f, z]) => `${y}-${p2(mo)}-${p2(d)}T${p2(h)}:${p2(mi)}:${p2(mi)}${f}${z}`);
const uptime = fc
  .tuple(pick('', ' ', '    '), or(fc.stringMatching(/^\d{1,10}$/), pick('', '0', '00', '12345678901')),
    or(fc.stringMatching(/^\d{1,9}$/), pick('', '0000000000', '1234567890')), or(pick(''), pick('@1', '@12345')))
  .map(([sp, i, f, cpu]) => `[${sp}${i}.${f}${cpu}] `);
const kernelTag = fc
  .tuple(or(pick('vm ', '', 'host-1.lan '), pick('a"b ', 'kernel: ', 'hé ', 'h\\x ', ' ')),
    or(pick('kernel: '), pick('kern.warn kernel: ', 'kernel:', 'sshd: ')))
  .map(([h, k]) => h + k);
const blank = or(pick(' '), pick('', '  ', 'x '));
const envelope = fc.oneof(
  fc.tuple(fc.oneof(bsd, iso), blank, kernelTag, fc.option(uptime, { nil: '' })).map((parts) => parts.join('')),
  uptime,
);
const iface = or(pick('eth0', 'kls0', '', 'br-1a2b', 'x'.repeat(15)),
  pick('a/b', 'x'.repeat(16), 'é0', 'e"0', 'e\\0', 'e=0'));
const octet = or(fc.integer({ min: 0, max: 255 }).map(String), pick('256', '300', '00', '01', ''));
// Few distinct addresses and ports too, so that consecutive lines share some (the fast path reuses their JSON).
const v4 = fc.oneof(pick('10.0.0.1', '10.0.0.2'), fc.tuple(octet, octet, octet, octet).map((o) => o.join('.')));
const group = or(fc.oneof(pick('0000', 'ffff', 'FD31', '0001'), fc.stringMatching(/^[0-9a-f]{4}$/)),
  pick('0', 'abcde', 'g000'));
const v6 = or(
  fc.array(group, { minLength: 8, maxLength: 8 }).map((g) => g.join(':')),
  pick('fd31::1', '::ffff:10.0.0.1', '0000:0000:0000:0000:0000:ffff:0a00:0001',
    '0000:0000:0000:0000:0000:0000:0a00:0001'),
);
const mac = or(pick('MAC=2e:cb:25:4d:68:c8:a2:02:1d:49:d3:4c:08:00 ', 'MAC= ', '', 'MAC=2e '),
  pick('MAC=2E:cb ', 'MAC=Ab:cd ', 'MAC=2e: ',
  'MAC=2e:c ', 'MACSRC=2e:cb:25:4d:68:c8 MACDST=a2:02:1d:49:d3:4c MACPROTO=0800 ', 'PHYSIN=eth1 '));
const ipv4Header = fc
  .tuple(num(65535), or(pick('0x00', '0x1F', '0xa0'), pick('0xfg', '00')), pick('0x00', '0xC0'), num(255), num(65535),
    or(pick('', 'CE ', 'DF ', 'CE DF '), pick('DF CE ', 'MF ', 'OPT (0204) ')))
  .map(([len, tos, prec, ttl, id, x]) => `LEN=${len} TOS=${tos} PREC=${prec} TTL=${ttl} ID=${id} ${x}`);
const ipv6Header = fc
  .tuple(num(4294967295), num(255), num(255), num(1048575))
  .map(([len, tc, hl, fl]) => `LEN=${len} TC=${tc} HOPLIMIT=${hl} FLOWLBL=${fl} `);
const FLAGS = ['CWR', 'ECE', 'URG', 'ACK', 'PSH', 'RST', 'SYN', 'FIN'];
const port = fc.oneof(pick('7000', '8000'), num(65535));
const flagWords = or(
  fc.subarray(FLAGS),
  fc.array(pick(...FLAGS), { maxLength: 4 }),
);
const tcp = fc
  .tuple(num(65535), port, fc.option(fc.tuple(num(4294967295), num(4294967295)), { nil: null }), num(65535),
    or(pick('0x00', '0x0F'), pick('0xZZ')), flagWords, num(65535))
  .map(([s, d, seq, w, res, f, u]) =>
    `PROTO=TCP SPT=${s} DPT=${d} ${seq === null ? '' : `SEQ=${seq[0]} ACK=${seq[1]} `}`
      + `WINDOW=${w} RES=${res} ${f.map((x) => `${x} `).join('')}URGP=${u}`);
const udp = fc.tuple(num(65535), port, num(65535)).map(([s, d, l]) => `PROTO=UDP SPT=${s} DPT=${d} LEN=${l}`);
const record = fc
  .tuple(iface, iface, mac,
    or(fc.oneof(fc.tuple(v4, v4, ipv4Header), fc.tuple(v6, v6, ipv6Header)), fc.tuple(v4, v6, ipv4Header)),
    or(fc.oneof(tcp, udp), pick('PROTO=ICMP TYPE=8 CODE=0 ID=1 SEQ=1')),
    or(pick(' ', ''), pick('  ', ' UID=0 GID=0 ', ' MARK=0x1 ', ' OPT (020405B4) ', '\t')))
  .map(([i, o, m, [s, d, h], t, end]) => `IN=${i} OUT=${o} ${m}SRC=${s} DST=${d} ${h}${t}${end}`);
const PREFIXES = ['KNOCK', '[UFW BLOCK]', ''];
const line = fc
  .tuple(envelope, fc.nat({ max: PREFIXES.length - 1 }), or(pick(''), pick(' ', '  ')), record)
  .map(([env, p, sp, rec]) => ({ text: `${env}${PREFIXES[p]}${p === 2 ? '' : ' '}${sp}${rec}`, prefix: p }));

// Edits a generated line: a field's text replaced, a key repeated, two fields swapped, unicode and blanks.
const edit = fc.record({
  at: fc.nat(),
  del: fc.nat({ max: 8 }),
  ins: fc.oneof(
    pick('', ' ', '  ', '=', ':', '.', '0', '9', '\t', '\u00a0', 'é', '😀', '\u0000', '"', '\\', '[', ']', 'Z', '@'),
    pick('SRC=10.0.0.9 ', 'DPT=22 ', 'IN=eth1 ', 'SYN ', 'DF ', 'LEN=1 ', 'KNOCK ', 'kernel: ', 'ACK=1 '),
    fc.string({ maxLength: 3 }),
  ),
  swap: fc.boolean(),
});

function mutate(s: string, edits: { at: number; del: number; ins: string; swap: boolean }[]): string {
  for (const e of edits) {
    if (e.swap) {
      const t = s.split(' ');
      const i = e.at % t.length;
      const j = (e.at * 7 + 3) % t.length;
      [t[i], t[j]] = [t[j]!, t[i]!];
      s = t.join(' ');
    } else {
      const at = e.at % (s.length + 1);
      s = s.slice(0, at) + e.ins + s.slice(at + e.del);
    }
  }
  return s;
}

const FORMATS: Format[] = ['auto', 'kernel', 'logemu'];
const opts = (prefix: string, format: Format, now: Date): ParseOptions => ({ prefix, format, now });

test('property: generated lines of the common shapes', () => {
  const tally = { fast: 0, strict: 0 };
  fc.assert(
    fc.property(line, pick(...NOWS), pick(...FORMATS), ({ text, prefix }, now, format) => {
      same(text, opts(PREFIXES[prefix]!, format, now), tally);
    }),
    { numRuns: 30000 },
  );
  // Both sides are exercised: enough valid lines for the fast path, enough invalid ones for the strict parser.
  assert.ok(tally.fast > 1000 && tally.strict > 1000, JSON.stringify(tally));
});

test('property: mutated lines (field edits, unicode, repeated keys, fields out of order)', () => {
  const tally = { fast: 0, strict: 0 };
  fc.assert(
    fc.property(line, fc.array(edit, { minLength: 1, maxLength: 3 }), pick(...NOWS), ({ text, prefix }, edits, now) => {
      same(mutate(text, edits), opts(PREFIXES[prefix]!, 'kernel', now), tally);
    }),
    { numRuns: 30000 },
  );
  assert.ok(tally.fast > 50 && tally.strict > 5000, JSON.stringify(tally));
});

/** The prefix a logged record uses: what opens its kernel message, before IN=. */
function ownPrefix(line: string): string {
  return /(?:kernel: (?:\[[^\]]*\] )?|^\[[^\]]*\] )(.*?) *IN=/.exec(line)?.[1] ?? 'KNOCK';
}

test('every line of the fixtures and of the shared corpus: the same results through both', () => {
  const files = readdirSync(fixtures)
    .filter((f) => f !== 'expected')
    .map((f) => join(fixtures, f));
  if (existsSync(corpus)) files.push(...readdirSync(corpus).filter((f) => !f.endsWith('.md'))
    .map((f) => join(corpus, f)));
  const tally = { fast: 0, strict: 0 };
  for (const f of files) {
    for (const l of readFileSync(f, 'utf8').split('\n')) {
      for (const prefix of new Set([ownPrefix(l), 'KNOCK', ''])) {
        for (const format of FORMATS) for (const now of NOWS) same(l, opts(prefix, format, now), tally);
      }
    }
  }
  assert.ok(tally.fast >= 20, JSON.stringify(tally));
});

test('the fast path leaves other formats and non-ASCII prefixes to the strict parser', () => {
  const now = NOWS[0]!;
  assert.equal(fastLineFor(opts('KNOCK', 'logemu', now)), null);
  assert.equal(fastLineFor(opts('KNOCK', 'ulogd-json', now)), null);
  assert.equal(fastLineFor(opts('KNÖCK', 'kernel', now)), null);
  // The prefix is trimmed at its end, as parseLine does.
  assert.equal(fastLineFor(opts('KNOCK  ', 'kernel', now))?.prefix, 'KNOCK');
});

test('a stamp is converted once, and no other stamp shares its conversion', () => {
  const line = (stamp: string) =>
    `${stamp} vm kernel: KNOCK IN=eth0 OUT= SRC=10.0.0.2 DST=10.0.0.1 LEN=60 TOS=0x00 PREC=0x00 TTL=64 ID=1 DF `
      + 'PROTO=UDP SPT=1 DPT=2 LEN=9 ';
  const o = opts('KNOCK', 'kernel', NOWS[0]!);
  const tally = { fast: 0, strict: 0 };
  // Each invalid stamp right after a valid one whose fields would add up to the same second.
  for (const [valid, invalid] of [
    ['Nov 25 00:00:00', 'Nov 24 24:00:00'],
    ['Nov 24 01:00:00', 'Nov 24 00:60:00'],
    ['2026-11-25T00:00:00Z', '2026-11-24T24:00:00Z'],
  ] as const) {
    same(line(valid), o, tally);
    same(line(invalid), o, tally);
    assert.equal(parseLine(line(invalid), o).ok, false);
  }
  assert.deepEqual(tally, { fast: 3, strict: 3 });
});

test('JSON reused from line to line only while what it holds repeats: '
  + 'host, interface, address, protocol, port, flags', () => {
  const o = opts('KNOCK', 'kernel', NOWS[0]!);
  const tally = { fast: 0, strict: 0 };
  const v4 = 'SRC=10.0.0.2 DST=10.0.0.1 LEN=60 TOS=0x00 PREC=0x00 TTL=64 ID=1 DF';
  const v6 = 'SRC=fd31:0000:0000:0000:0000:0000:0000:0002 DST=fd31:0000:0000:0000:0000:0000:0000:0001 LEN=80 TC=0 '
    + 'HOPLIMIT=64 FLOWLBL=1';
  const tcp = (dpt: number, flags: string) => `PROTO=TCP SPT=40000 DPT=${dpt} WINDOW=64240 RES=0x00 ${flags}URGP=0 `;
  const udp = (dpt: number) => `PROTO=UDP SPT=40000 DPT=${dpt} LEN=9 `;
  const line = (host: string, iface: string, addrs: string, proto: string) =>
    `Nov 24 23:21:32 ${host}kernel: KNOCK IN=${iface} OUT= ${addrs} ${proto}`;
  for (const [host, iface, addrs, proto] of [
    ['vm ', 'eth0', v4, tcp(7000, 'SYN ')],
    ['vm ', 'eth0', v4, udp(7000)],
    ['vm ', 'eth0', v4, tcp(7000, 'ACK SYN ')],
    ['vm ', 'eth1', v4, tcp(7000, 'ACK SYN ')],
    ['', 'eth1', v4, tcp(8000, 'ACK SYN ')],
    ['eth1 ', '', v4, tcp(8000, 'ACK SYN ')],
    ['eth1 ', '', v6, tcp(8000, 'ACK SYN ')],
    ['eth1 ', '', v6, udp(8000)],
    ['eth1 ', '', v4, udp(8000)],
  ]) {
    same(line(host!, iface!, addrs!, proto!), o, tally);
  }
  assert.deepEqual(tally, { fast: 9, strict: 0 });
});
