process.env['TZ'] = 'UTC'; // year-less syslog stamps are local time; pin the zone before any Date is made

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { canonicalAddress } from '../src/net.js';
import { parseLine, type ParseOptions } from '../src/parse/index.js';
import { fastParse, parseTokens, type Reject } from '../src/parse/record.js';
import type { KnockEvent } from '../src/types.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const fixtures = `${root}test/fixtures/parse/`;
const cli = `${root}dist/src/cli.js`;
const now = new Date('2026-11-24T12:00:00Z');
const opts: ParseOptions = { prefix: 'KNOCK', format: 'auto', now };

const KERNEL_LINE =
  'Nov 24 23:21:32 vm kernel: [ 9279.394318] KNOCK IN=kls0 OUT= MAC=2e:cb:25:4d:68:c8:a2:02:1d:49:d3:4c:08:00 '
  + 'SRC=10.231.0.2 DST=10.231.0.1 LEN=60 TOS=0x00 PREC=0x00 TTL=64 ID=57027 DF PROTO=TCP SPT=42717 DPT=9000 '
  + 'WINDOW=64240 RES=0x00 SYN URGP=0 ';

function fixtureLines(name: string): string[] {
  return readFileSync(fixtures + name, 'utf8').replace(/\n$/, '').split('\n');
}

test('every fixture parses to its expected events and rejects', () => {
  const files = readdirSync(fixtures).filter((f) => f !== 'expected');
  assert.ok(files.length >= 9);
  for (const f of files) {
    const want = fixtureLines(`expected/${f}.jsonl`).map((l) => JSON.parse(l));
    const got = fixtureLines(f).map((l, i) => {
      const r = parseLine(l, opts);
      return r.ok ? r.event : { line: i + 1, reject: r.reason };
    });
    assert.deepEqual(got, want, f);
  }
});

test('the contract: field names and order, time and uptime', () => {
  const r = parseLine(KERNEL_LINE, opts);
  assert.ok(r.ok);
  assert.deepEqual(Object.keys(r.event),
    ['time', 'uptime', 'host', 'prefix', 'in', 'src', 'dst', 'proto', 'spt', 'dpt', 'flags']);
  assert.equal(
    JSON.stringify(r.event),
    '{"time":"2026-11-24T23:21:32Z","uptime":9279.394318,"host":"vm","prefix":"KNOCK","in":"kls0",'
      + '"src":"10.231.0.2","dst":"10.231.0.1","proto":"tcp","spt":42717,"dpt":9000,"flags":["SYN"]}',
  );
});

test('a year-less stamp takes the current year; a December stamp read in January the previous one', () => {
  const at = (iso: string) => {
    const r = parseLine(KERNEL_LINE.replace('Nov 24', 'Dec 31'), { ...opts, now: new Date(iso) });
    assert.ok(r.ok);
    return r.event.time;
  };
  assert.equal(at('2027-01-01T00:00:10Z'), '2026-12-31T23:21:32Z');
  assert.equal(at('2026-12-31T23:59:00Z'), '2026-12-31T23:21:32Z');
  const mar = parseLine(KERNEL_LINE.replace('Nov 24', 'Mar  2'), opts);
  assert.ok(mar.ok);
  assert.equal(mar.event.time, '2026-03-02T23:21:32Z');
});

test('prefixes: spaces and brackets, glued to IN=, must open the message', () => {
  const ufw = KERNEL_LINE.replace('KNOCK IN=', '[UFW BLOCK] IN=');
  const r = parseLine(ufw, { ...opts, prefix: '[UFW BLOCK] ' });
  assert.ok(r.ok);
  assert.equal(r.event.prefix, '[UFW BLOCK]');
  assert.equal(parseLine(ufw, opts).ok, false);
  const glued = parseLine(KERNEL_LINE.replace('KNOCK IN=', 'fw:DROP:IN='), { ...opts, prefix: 'fw:DROP:' });
  assert.ok(glued.ok);
  const none = parseLine(KERNEL_LINE.replace('KNOCK IN=', 'IN='), { ...opts, prefix: '' });
  assert.ok(none.ok);
  // the prefix elsewhere in the message does not count
  assert.deepEqual(parseLine(KERNEL_LINE.replace('KNOCK IN=', 'x KNOCK IN='), opts),
    { ok: false, reason: 'prefix is not "KNOCK"' });
});

test('a kernel source never accepts LOGEMU or ulogd2 JSON lines; a LOGEMU source never accepts kernel lines', () => {
  for (const f of ['ulogd-logemu.log', 'ulogd.json']) {
    for (const l of fixtureLines(f)) assert.equal(parseLine(l, { ...opts, format: 'kernel' }).ok, false, l);
  }
  for (const l of fixtureLines('kern-traditional.log')) assert.equal(parseLine(l, { ...opts, format: 'logemu' }).ok,
    false, l);
  for (const l of fixtureLines('ulogd-logemu.log')) assert.ok(parseLine(l, { ...opts, format: 'logemu' }).ok, l);
  assert.ok(fixtureLines('ulogd.json').slice(0, 2).every((l) => parseLine(l, { ...opts, format: 'ulogd-json' }).ok));
});

/**
 * journald's record of a /dev/kmsg record, as `journalctl -o json` prints it
 * (the fields journald sets for the kernel transport).
 */
function journaldKernelRecord(facility: string | undefined): string {
  const r: Record<string, string> = {
    __REALTIME_TIMESTAMP: '1795994492390945', _TRANSPORT: 'kernel', PRIORITY: '4',
    _SOURCE_MONOTONIC_TIMESTAMP: '9279394318',
    _HOSTNAME: 'vm', MESSAGE: KERNEL_LINE.slice(KERNEL_LINE.indexOf('KNOCK')),
  };
  if (facility !== undefined) r['SYSLOG_FACILITY'] = facility;
  return JSON.stringify(r);
}

test('journald: a user-space write to /dev/kmsg (_TRANSPORT=kernel, SYSLOG_FACILITY 1) is rejected, '
  + 'as the kmsg source rejects it', () => {
  for (const format of ['kernel', 'auto'] as const) {
    const o = { ...opts, format };
    assert.ok(parseLine(journaldKernelRecord('0'), o).ok, format);
    assert.deepEqual(parseLine(journaldKernelRecord('1'), o),
      { ok: false, reason: 'journal record not from the kernel facility (SYSLOG_FACILITY=1)' });
    assert.deepEqual(parseLine(journaldKernelRecord('00'), o),
      { ok: false, reason: 'journal record not from the kernel facility (SYSLOG_FACILITY=00)' });
    // journald writes SYSLOG_FACILITY on every kernel-transport record: a record without it is not journald's.
    assert.deepEqual(parseLine(journaldKernelRecord(undefined), o),
      { ok: false, reason: 'journal record not from the kernel facility (SYSLOG_FACILITY=undefined)' });
  }
});

/** What every accepted event must satisfy, however hostile the input. */
function assertValid(ev: KnockEvent): void {
  assert.equal(canonicalAddress(ev.src), ev.src);
  assert.equal(canonicalAddress(ev.dst), ev.dst);
  assert.equal(ev.src.includes(':'), ev.dst.includes(':'));
  assert.ok(ev.proto === 'tcp' || ev.proto === 'udp');
  for (const p of [ev.spt, ev.dpt]) assert.ok(Number.isInteger(p) && p >= 0 && p <= 65535);
  if (ev.proto === 'udp') assert.deepEqual(ev.flags, []);
  assert.ok(!/\s/.test(ev.in) && ev.in.length <= 15);
  assert.equal(ev.prefix, 'KNOCK');
}

test('property: random text never throws and never yields an invalid event', () => {
  const text = fc.oneof(fc.string({ maxLength: 300 }), fc.string({ unit: 'binary', maxLength: 300 }));
  fc.assert(
    fc.property(text, (s) => {
      const r = parseLine(s, opts);
      if (r.ok) assertValid(r.event);
      else assert.doesNotMatch(r.reason, /^internal error/);
    }),
    { numRuns: 5000 },
  );
});

test('property: mutated real lines never throw and never yield an invalid event', () => {
  const real = readdirSync(fixtures)
    .filter((f) => f !== 'expected')
    .flatMap((f) => fixtureLines(f));
  const mutation = fc.record({
    line: fc.constantFrom(...real),
    edits: fc.array(
      fc.record({
        at: fc.nat(),
        del: fc.nat({ max: 6 }),
        ins: fc.oneof(
          fc.constantFrom('', ' ', '=', ':', '0', '9', '99999', 'SRC=', 'DPT=', 'KNOCK ', '[', ']', '.', '::', 'ffff',
            '\n', '"', '}'),
          fc.string({ maxLength: 4 }),
        ),
      }),
      { minLength: 1, maxLength: 4 },
    ),
  });
  let accepted = 0;
  fc.assert(
    fc.property(mutation, ({ line, edits }) => {
      let s = line;
      for (const e of edits) {
        const at = e.at % (s.length + 1);
        s = s.slice(0, at) + e.ins + s.slice(at + e.del);
      }
      const r = parseLine(s, opts);
      if (r.ok) {
        accepted++;
        assertValid(r.event);
      } else assert.doesNotMatch(r.reason, /^internal error/);
    }),
    { numRuns: 20000 },
  );
  assert.ok(accepted > 0, 'some mutations (e.g. of a MAC or a TTL) still parse');
});

test('property: the fast path accepts only what the token parser accepts, with the same fields', () => {
  const bodies = readdirSync(fixtures)
    .filter((f) => f !== 'expected')
    .flatMap((f) => fixtureLines(f))
    .filter((l) => l.includes(' IN=') && !l.startsWith('{'))
    .map((l) => l.slice(l.indexOf('IN=')));
  const edit = fc.record({
    body: fc.constantFrom(...bodies),
    at: fc.nat(),
    del: fc.nat({ max: 12 }),
    ins: fc.constantFrom('', ' ', 'DF ', 'MF ', 'ACK ', 'SYN ', 'OPT (0204) ', 'OPT ( ) ', 'SEQ=1 ACK=2 ', 'RES=0x00 ',
      'LEN=9 ', 'UID=0 GID=0 ', 'MARK=0x1 ', '0', ':', 'TC=0 ', '65536'),
  });
  let fast = 0;
  fc.assert(
    fc.property(edit, ({ body, at, del, ins }) => {
      const i = at % (body.length + 1);
      const b = body.slice(0, i) + ins + body.slice(i + del);
      for (const printer of ['kernel', 'logemu'] as const) {
        const f = fastParse(b, printer);
        if (f === null) continue;
        fast++;
        let slow: unknown;
        try {
          slow = parseTokens(b, printer);
        } catch (e) {
          assert.fail(`fast path accepted what the token parser rejects (${(e as Reject).message}): ${b}`);
        }
        assert.deepEqual(f, slow, b);
      }
    }),
    { numRuns: 20000 },
  );
  assert.ok(fast > 100, `the fast path took ${fast} lines`);
});

test('knocklog parse: stdin, --rejects, the summary on stderr, exit status', () => {
  const input = readFileSync(`${fixtures}kern-traditional.log`);
  const out = execFileSync('node', [cli, 'parse'], { input, env: { ...process.env, TZ: 'UTC' } }).toString();
  const lines = out.trim().split('\n');
  assert.equal(lines.length, 5);
  assert.deepEqual(JSON.parse(lines[2]!).src, 'fd31::2');
  const rej = spawnSync('node', [cli, 'parse', '--rejects', `${fixtures}forged-malformed.log`], { encoding: 'utf8' });
  assert.equal(rej.status, 0);
  const rows = rej.stdout.trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(rows.length, 21);
  assert.deepEqual(Object.keys(rows[0]), ['line', 'reject']);
  assert.match(rej.stderr, /21 lines, 0 knock records/);
  const missing = spawnSync('node', [cli, 'parse', '/nonexistent/kern.log'], { encoding: 'utf8' });
  assert.equal(missing.status, 1);
  assert.match(missing.stderr, /ENOENT.*\/nonexistent\/kern.log/);
});

test('a year-less stamp takes its year from each call\'s `now`, not from an earlier call with the same stamp', () => {
  const jan = KERNEL_LINE.replace('Nov 24', 'Jan  8');
  const at = (iso: string) => {
    const r = parseLine(jan, { ...opts, now: new Date(iso) });
    assert.ok(r.ok);
    return r.event.time;
  };
  assert.equal(at('2026-11-24T12:00:00Z'), '2026-01-08T23:21:32Z');
  assert.equal(at('2027-01-05T00:00:00Z'), '2027-01-08T23:21:32Z');
});
