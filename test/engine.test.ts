import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { performance } from 'node:perf_hooks';
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';
import { parseConfig } from '../src/config/index.js';
import { Engine, type EngineOptions } from '../src/engine/index.js';
import type { Decision, Door, KnockEvent, Proto } from '../src/types.js';
import { stageOf } from './helpers/decisions.js';
import { sequenceOf } from './helpers/doors.js';

const doorsOf = (text: string): readonly Door[] =>
  parseConfig(text, '/etc/knockd.conf', { requireWritable: false }).doors;
const opts = (o: Partial<EngineOptions> = {}): EngineOptions =>
  ({ isLocal: () => true, maxSources: 1000, iface: null, ...o });

let spt = 30000;
function ev(src: string, dpt: number, o: Partial<KnockEvent> = {}): KnockEvent {
  return {
    time: null, uptime: null, host: null, prefix: 'KNOCK', in: 'eth0', src, dst: '10.0.0.1',
    proto: 'tcp' as Proto, spt: spt++, dpt, flags: ['SYN'], ...o,
  };
}
const kinds = (ds: Decision[]) => ds.map((d) => (stageOf(d) === undefined ? d.event : `${d.event}${stageOf(d)}`));

// With start and stop commands: only a door that has something to close is kept open.
const A = doorsOf('[A]\nsequence = 7000,8000,9000\nseq_timeout = 5\ncmd_timeout = 10\n'
  + 'start_command = a %IP%\nstop_command = d %IP%\n');

test('the engine decides deadlines itself: nextDeadline, eager timeout, close', () => {
  const e = new Engine(A, opts());
  assert.equal(e.nextDeadline(), null);
  assert.deepEqual(kinds(e.knock(ev('10.0.0.2', 7000), 1000)), ['stage1']);
  assert.equal(e.nextDeadline(), 6000);
  assert.deepEqual(e.tick(6000), [], 'a knock exactly at the deadline is still in time');
  assert.deepEqual(e.tick(6001), [{ event: 'timeout', at: 6000, door: 'A', src: '10.0.0.2', stage: 1 }]);
  assert.equal(e.nextDeadline(), null);
  e.knock(ev('10.0.0.2', 7000), 7000);
  e.knock(ev('10.0.0.2', 8000), 7100);
  assert.deepEqual(kinds(e.knock(ev('10.0.0.2', 9000), 7200)), ['stage3', 'open']);
  assert.equal(e.nextDeadline(), 17200);
  assert.deepEqual(e.openDoors(), [{ door: 'A', src: '10.0.0.2', closeAt: 17200 }]);
  assert.deepEqual(e.tick(17200), [{ event: 'close', at: 17200, door: 'A', src: '10.0.0.2' }]);
  assert.deepEqual(e.stats(), { sources: 0, attempts: 0, open: 0, evictions: 0, stale: 0 });
});

test('a restored open door is extended by a re-knock, not opened again', () => {
  const e = new Engine(A, opts());
  e.restoreOpen('A', '10.0.0.2', 5000);
  for (const [p, t] of [[7000, 1000], [8000, 1100]] as const) e.knock(ev('10.0.0.2', p), t);
  assert.deepEqual(kinds(e.knock(ev('10.0.0.2', 9000), 1200)), ['stage3', 'extend']);
  assert.deepEqual(e.tick(5000), [], 'the old close time no longer applies');
  assert.deepEqual(kinds(e.tick(11200)), ['close']);
});

test('Interface: only knocks that came in on it count', () => {
  const e = new Engine(A, opts({ iface: 'eth1' }));
  assert.deepEqual(e.knock(ev('10.0.0.2', 7000), 0), []);
  assert.deepEqual(kinds(e.knock(ev('10.0.0.2', 7000, { in: 'eth1' }), 0)), ['stage1']);
});

test('a destination that is not local is invisible; Target replaces the local addresses', () => {
  const isLocal = (a: string) => a === '10.0.0.1';
  const e = new Engine([...A, ...doorsOf('[T]\nsequence = 7000,7777\ntarget = 192.0.2.9\n')], opts({ isLocal }));
  assert.deepEqual(e.knock(ev('10.0.0.2', 7000, { dst: '10.0.0.99' }), 0), []);
  assert.deepEqual(e.knock(ev('10.0.0.2', 7000, { dst: '192.0.2.9' })
    , 0).map((d) => d.door), ['T']);
});

test('stale knocks (older than seq_timeout when they arrive) are ignored and counted', () => {
  const e = new Engine(A, opts());
  assert.deepEqual(e.knock(ev('10.0.0.2', 7000), 1000, 7000), []);
  assert.equal(e.stats().stale, 1);
  assert.deepEqual(kinds(e.knock(ev('10.0.0.2', 7000), 1000, 5000)), ['stage1']);
});

test('a reload keeps attempts of unchanged doors and drops those of changed ones', () => {
  const two = doorsOf('[A]\nsequence = 7000,8000,9000\n[B]\nsequence = 7000,6000,5000\n');
  const e = new Engine(two, opts());
  e.knock(ev('10.0.0.2', 7000), 0);
  assert.equal(e.stats().attempts, 2);
  e.replaceDoors(doorsOf('[A]\nsequence = 7000,8000,9000\n[B]\nsequence = 7000,6000,5001\n'));
  assert.equal(e.stats().attempts, 1);
  e.knock(ev('10.0.0.2', 8000), 100);
  assert.deepEqual(kinds(e.knock(ev('10.0.0.2', 9000), 200)), ['stage3', 'open']);
});

test('a flood from 100,000 sources stays within maxSources, and a client past its first knock survives it', () => {
  const e = new Engine(A, opts({ maxSources: 1000 }));
  const client = '10.200.0.2';
  e.knock(ev(client, 7000), 0);
  e.knock(ev(client, 8000), 1);
  let t = 2;
  for (let i = 0; i < 200_000; i++) {
    const n = i % 100_000;
    e.knock(ev(`10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`, 7000), t);
    t += 0.01;
    assert.ok(e.stats().sources <= 1000);
  }
  assert.deepEqual(kinds(e.knock(ev(client, 9000), t)), ['stage3', 'open']);
  assert.ok(e.stats().evictions >= 199_000, `evictions ${e.stats().evictions}`);
  e.tick(t + 60_000);
  assert.deepEqual(e.stats(), { sources: 0, attempts: 0, open: 0, evictions: e.stats().evictions, stale: 0 });
});

test('attempts and sources reused after a flood at the cap keep their own address, time and door', () => {
  // A flood at the cap reuses the objects of evicted sources and ended attempts: what comes out must be what
  // the last sources knocked, each timing out at its own first knock plus seq_timeout, and no other source.
  const B = doorsOf('[B]\nsequence = 7000,8000\nseq_timeout = 2\nstart_command = b %IP%\n');
  const e = new Engine([...A, ...B], opts({ maxSources: 100 }));
  const addr = (n: number) => (n % 7 === 0 ? `fd00::${n.toString(16)}` : `10.1.${(n >> 8) & 255}.${n & 255}`);
  const firstAt = new Map<string, number>();
  for (let n = 0; n < 20_000; n++) {
    const at = n * 0.1;
    e.knock(ev(addr(n), 7000), at);
    firstAt.set(addr(n), at);
  }
  assert.equal(e.stats().sources, 100);
  assert.equal(e.stats().attempts, 200, 'each of the last 100 sources has an attempt at A and at B');
  // One of the last sources goes on with B: its attempt there, a reused object, must still know its door.
  assert.deepEqual(kinds(e.knock(ev(addr(19_999), 8000), 2000)), ['stage2', 'stage2', 'open']);
  const out = e.tick(1e9);
  const timeouts = out.filter((d) => d.event === 'timeout');
  assert.equal(timeouts.length, 199);
  for (const d of timeouts) {
    const first = firstAt.get(d.src);
    assert.ok(first !== undefined, `a source that knocked: ${d.src}`);
    const n = [...firstAt.keys()].indexOf(d.src);
    assert.ok(n >= 19_900, `${d.src} is one of the last 100 sources (#${n})`);
    assert.equal(d.at, first + (d.door === 'A' ? 5000 : 2000), `${d.src}: ${d.door} times out at its own time`);
    assert.equal(d.door === 'B' && d.src === addr(19_999), false, 'the opened attempt does not time out');
  }
  assert.deepEqual(e.stats(), { sources: 0, attempts: 0, open: 0, evictions: e.stats().evictions, stale: 0 });
});

test('at the cap, each eviction costs O(1): 1,100,000 distinct first knocks at maxSources 100,000', () => {
  // Before the fix each eviction at this cap read past the holes at the front of a Map
  // (1,000,000 evictions: 31 s here; now ~1 s).
  const e = new Engine(A, opts({ maxSources: 100_000 }));
  const t0 = performance.now();
  for (let n = 0; n < 1_100_000; n++) e.knock(ev(`10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`, 7000), n / 100);
  const ms = performance.now() - t0;
  assert.equal(e.stats().evictions, 1_000_000);
  assert.ok(ms < 15_000, `took ${Math.round(ms)} ms (a bound against a quadratic blow-up)`);
});

test('the engine keeps its own copy of each address, not the line (or chunk of input) it was cut from', () => {
  v8.setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  // B keeps its opens: it has commands to open and close, for both families.
  const commands = 'start_command = true\nstop_command = true\nstart_command_6 = true\nstop_command_6 = true\n';
  const doors = doorsOf(`[A]\nsequence = 7000,8000,9000\n[B]\nsequence = 6000\ncmd_timeout = 60\n${commands}`);
  const e = new Engine(doors, opts());
  gc();
  const before = process.memoryUsage().heapUsed;
  for (let i = 0; i < 200; i++) {
    // An address of 13 characters or more sliced out of a string shares that string's memory (V8).
    const v4 = `198.${100 + (i % 100)}.${i}.${100 + (i % 100)}`;
    const addr = i % 4 < 2 ? v4 : `2001:db8::${(0x1000 + i).toString(16)}`;
    const chunk = `${'x'.repeat(1 << 20)} SRC=${addr} ${i}`;
    const src = chunk.slice(chunk.indexOf('SRC=') + 4, chunk.lastIndexOf(' '));
    e.knock(ev(src, i % 2 === 0 ? 7000 : 6000), i);
  }
  gc();
  const grown = process.memoryUsage().heapUsed - before;
  const { sources, attempts, open } = e.stats();
  assert.deepEqual({ sources, attempts, open }, { sources: 100, attempts: 100, open: 100 });
  assert.ok(grown < 20 << 20, `the heap grew by ${(grown / 2 ** 20).toFixed(0)} MiB for 200 sources`);
});

// Property: an open for (S, D) at time T needs knocks from S, in order, matching
// D's sequence, the first no earlier than T - seq_timeout and the last at T.
const doorsP = doorsOf('[A]\nsequence = 7000,8000:udp,9000\nseq_timeout = 2\n'
  + '[B]\nsequence = 7000,6000\nseq_timeout = 1\ntcpflags = syn\n');
const knockArb = fc.record({
  src: fc.constantFrom('10.0.0.2', '10.0.0.3', 'fd00::2'),
  dpt: fc.constantFrom(7000, 8000, 9000, 6000, 1234),
  udp: fc.boolean(),
  ack: fc.boolean(),
  dt: fc.integer({ min: 0, max: 1500 }),
  spt: fc.constantFrom(1, 2, 3),
});

function sentInOrder(sent: { src: string; key: string; at: number }[], d: Decision, door: Door): boolean {
  const mine = sent.filter((s) => s.src === d.src && s.at <= d.at && s.at >= d.at - door.seqTimeoutMs);
  const sequence = sequenceOf(door);
  let i = 0;
  for (const s of mine) if (i < sequence.length && s.key === `${sequence[i]!.proto}/${sequence[i]!.port}`) i++;
  return i === sequence.length && mine.at(-1)?.at === d.at;
}

test('property: a door opens only for a source that sent its whole sequence, in order, within the window', () => {
  fc.assert(fc.property(fc.array(knockArb, { maxLength: 60 }), (ks) => {
    const e = new Engine(doorsP, opts());
    const sent: { src: string; key: string; at: number }[] = [];
    let t = 0;
    for (const k of ks) {
      t += k.dt;
      const proto: Proto = k.udp ? 'udp' : 'tcp';
      sent.push({ src: k.src, key: `${proto}/${k.dpt}`, at: t });
      const ds = e.knock(ev(k.src, k.dpt, { proto, spt: k.spt, flags: k.udp ? [] : [k.ack ? 'ACK' : 'SYN'] }), t);
      for (const d of ds) {
        if (d.event !== 'open' && d.event !== 'extend') continue;
        const door = doorsP.find((x) => x.name === d.door)!;
        assert.ok(sentInOrder(sent, d, door), `${d.event} ${d.door} for ${d.src} at ${d.at}`);
      }
    }
  }), { numRuns: 2000 });
});

test('property: the whole sequence, alone and in time, always opens (or extends) the door', () => {
  fc.assert(fc.property(fc.array(knockArb, { maxLength: 20 }), fc.integer({ min: 0, max: 666 }), (noise, gap) => {
    const e = new Engine(doorsP, opts());
    let t = 0;
    for (const k of noise) e.knock(ev(k.src, k.dpt, { proto: k.udp ? 'udp' : 'tcp' }), (t += k.dt));
    const src = '10.0.0.2';
    const steps: [number, Proto][] = [[7000, 'tcp'], [8000, 'udp'], [9000, 'tcp']];
    const out: Decision[] = [];
    for (const [p, proto] of steps) out.push(...e.knock(ev(src, p, { proto, flags: proto === 'tcp' ? ['SYN'] : [] }),
      (t += gap)));
    assert.ok(out.some((d) => d.door === 'A' && d.src === src && (d.event === 'open' || d.event === 'extend')),
      JSON.stringify(out));
  }), { numRuns: 1000 });
});

test('a door without a stop command for the source\'s family is never kept open: each completion opens', () => {
  const doors = doorsOf('[O]\nsequence = 7000,8000\nstart_command = a %IP%\nstop_command_6 = d %IP%\n'
    + '[S]\nsequence = 6000,5000\nstop_command = d %IP%\n');
  const e = new Engine(doors, opts());
  const twice = (src: string, ports: [number, number], door: string): string[] => [0, 1000].flatMap((t) => {
    e.knock(ev(src, ports[0]), t);
    return e.knock(ev(src, ports[1]), t + 100).filter((d) => d.door === door).map((d) => d.event);
  });
  assert.deepEqual(twice('10.0.0.2', [7000, 8000], 'O'), ['stage', 'open', 'stage', 'open'], 'IPv4: no stop_command');
  assert.deepEqual(twice('fd00::2', [7000, 8000], 'O'), ['stage', 'open', 'stage', 'extend'], 'IPv6: stop_command_6');
  // knockd runs a stop command only after a start command: without one there is nothing to close either.
  assert.deepEqual(twice('10.0.0.2', [6000, 5000], 'S'), ['stage', 'open', 'stage', 'open']);
  assert.deepEqual(e.openDoors().map((o) => `${o.door} ${o.src}`), ['O fd00::2']);
  assert.deepEqual(kinds(e.tick(60_000)), ['close']);
  // Nor is such a door restored as open from the daemon's state (a record from before this rule).
  e.restoreOpen('O', '10.0.0.2', 90_000);
  assert.deepEqual(e.openDoors(), []);
  e.knock(ev('10.0.0.2', 7000), 61_000);
  assert.deepEqual(kinds(e.knock(ev('10.0.0.2', 8000), 61_100)), ['stage2', 'open']);
});

test('martian sources never knock; loopback only on a door whose Target is loopback (audit L9)', () => {
  const doors = doorsOf('[A]\nsequence = 7000,8000\n[L]\nsequence = 7100,8100\ntarget = 127.0.0.1\n'
    + '[L6]\nsequence = 7200,8200\ntarget = ::1\n');
  const e = new Engine(doors, opts());
  const martians = ['0.0.0.0', '0.1.2.3', '255.255.255.255', '224.0.0.1', '239.1.2.3', '127.0.0.1', '::', 'ff02::1',
    '::1', '::ffff:10.0.0.2'];
  for (const src of martians) {
    for (const [a, b] of [[7000, 8000], [7100, 8100], [7200, 8200]] as const) {
      const dst = src.includes(':') ? 'fd00::1' : '10.0.0.1';
      assert.deepEqual([...e.knock(ev(src, a, { dst }), 0), ...e.knock(ev(src, b, { dst }), 100)], [], `${src} ${a}`);
    }
  }
  assert.deepEqual(e.stats().attempts, 0);
  e.knock(ev('127.0.0.5', 7100, { dst: '127.0.0.1' }), 0);
  assert.deepEqual(kinds(e.knock(ev('127.0.0.5', 8100, { dst: '127.0.0.1' }), 100)), ['stage2', 'open']);
  e.knock(ev('::1', 7200, { dst: '::1' }), 0);
  assert.deepEqual(kinds(e.knock(ev('::1', 8200, { dst: '::1' }), 100)), ['stage2', 'open']);
});
