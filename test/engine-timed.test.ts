// The engine with time-based doors, on a fixed clock: which steps' sequences
// open, and that each opens at most once.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../src/config/index.js';
import { Engine, type EngineOptions } from '../src/engine/index.js';
import { deriveSequence, encodeBase32 } from '../src/totp/index.js';
import type { Decision, Door, KnockEvent } from '../src/types.js';
import { stageOf, stepOf } from './helpers/decisions.js';
import { timedOf } from './helpers/doors.js';

const SECRET = encodeBase32(Buffer.from('12345678901234567890123456789012'));
const doorsOf = (text: string): readonly Door[] =>
  parseConfig(text, '/etc/knockd.conf', { requireWritable: false }).doors;
const opts: EngineOptions = { isLocal: () => true, maxSources: 1000, iface: null };

function timedConf(ports = '20000-29999', extra = ''): string {
  return `[T]\nsequence_secret = ${SECRET}\nsequence_ports = ${ports}\nsequence_step = 30\nseq_timeout = 5\n`
    + `cmd_timeout = 10\nstart_command = a %IP%\nstop_command = d %IP%\n${extra}`;
}

let spt = 30000;
function ev(src: string, dpt: number, proto: 'tcp' | 'udp' = 'tcp'): KnockEvent {
  return {
    time: null, uptime: null, host: null, prefix: 'KNOCK', in: 'eth0', src, dst: '10.0.0.1', proto, spt: spt++, dpt,
    flags: proto === 'tcp' ? ['SYN'] : [],
  };
}

const STEP = 30_000;
/** A time well inside step N (1,800,000,000 s is step 60,000,000). */
const N = 60_000_000;
const inStep = (n: number, offsetMs = 10_000) => n * STEP + offsetMs;

function portsOf(door: Door, step: number): number[] {
  return deriveSequence(timedOf(door), step).map((s) => s.port);
}

/** Knocks `ports` 100 ms apart from `at`; all decisions. */
function knockAll(e: Engine, src: string, ports: number[], at: number): Decision[] {
  return ports.flatMap((p, i) => e.knock(ev(src, p), at + i * 100));
}

const opens = (ds: Decision[]) => ds.filter((d) => d.event === 'open' || d.event === 'extend')
  .map((d) => `${d.event} ${d.src} ${stepOf(d)}`);

test('the sequence of the current step opens, with the step in the decision; '
  + 'the same sequence replayed opens nothing', () => {
  const doors = doorsOf(timedConf());
  const e = new Engine(doors, opts);
  const seq = portsOf(doors[0]!, N);
  const ds = knockAll(e, '10.0.0.2', seq, inStep(N));
  assert.deepEqual(ds.map((d) => `${d.event}${stageOf(d) ?? ''}`), ['stage1', 'stage2', 'stage3', 'open']);
  assert.equal(stepOf(ds.at(-1)!), N);
  assert.deepEqual(opens(knockAll(e, '10.0.0.3', seq, inStep(N, 12_000))), [], 'a replay from another address');
  assert.deepEqual(opens(knockAll(e, '10.0.0.2', seq, inStep(N, 14_000))), [], 'a replay from the same address');
  assert.deepEqual(opens(knockAll(e, '10.0.0.3', seq, inStep(N + 1))), [], 'a replay in the next step');
  assert.deepEqual(e.usedSteps(), [{ door: 'T', steps: [N] }]);
});

test('the sequences of steps N-1 and N+1 are accepted at step N (clock skew); N-2 and N+2 are not', () => {
  const doors = doorsOf(timedConf());
  for (const [step, accepted] of [[N - 2, false], [N - 1, true], [N + 1, true], [N + 2, false]] as const) {
    const e = new Engine(doors, opts);
    const got = opens(knockAll(e, '10.0.0.2', portsOf(doors[0]!, step), inStep(N)));
    assert.deepEqual(got, accepted ? [`open 10.0.0.2 ${step}`] : [], `step N${step - N >= 0 ? '+' : ''}${step - N}`);
  }
});

test('used steps restored after a restart open nothing; other steps still do', () => {
  const doors = doorsOf(timedConf());
  const e = new Engine(doors, opts);
  e.restoreUsed('T', [N - 1, N]);
  assert.deepEqual(opens(knockAll(e, '10.0.0.2', portsOf(doors[0]!, N), inStep(N))), []);
  assert.deepEqual(opens(knockAll(e, '10.0.0.2', portsOf(doors[0]!, N - 1), inStep(N, 1000))), []);
  assert.deepEqual(opens(knockAll(e, '10.0.0.2', portsOf(doors[0]!, N + 1), inStep(N, 2000))),
    [`open 10.0.0.2 ${N + 1}`]);
});

test('two sources knocking the same sequence: the first to finish opens, the other gets nothing', () => {
  const doors = doorsOf(timedConf());
  const e = new Engine(doors, opts);
  const [a, b, c] = portsOf(doors[0]!, N);
  const t = inStep(N);
  const ds = [
    ...e.knock(ev('10.0.0.2', a!), t), ...e.knock(ev('10.0.0.9', a!), t + 1), ...e.knock(ev('10.0.0.9', b!), t + 2),
    ...e.knock(ev('10.0.0.2', b!), t + 3), ...e.knock(ev('10.0.0.9', c!), t + 4), ...e.knock(ev('10.0.0.2', c!), t + 5),
  ];
  assert.deepEqual(opens(ds), [`open 10.0.0.9 ${N}`]);
  assert.equal(e.stats().attempts, 0);
});

test('an attempt that outlives its step by more than the skew opens nothing; '
  + 'an open door is extended by a new step', () => {
  const doors = doorsOf(timedConf());
  const e = new Engine(doors, opts);
  // Bound to N-1, started at the end of step N, finished in step N+1.
  const late = portsOf(doors[0]!, N - 1);
  const start = inStep(N, 29_000);
  const ds = [...e.knock(ev('10.0.0.2', late[0]!), start), ...e.knock(ev('10.0.0.2', late[1]!), start + 1500),
    ...e.knock(ev('10.0.0.2', late[2]!), start + 3000)];
  assert.deepEqual(ds.map((d) => `${d.event}${stageOf(d) ?? ''}`), ['stage1', 'stage2', 'stage3']);
  assert.deepEqual(opens(knockAll(e, '10.0.0.2', portsOf(doors[0]!, N + 1), inStep(N + 1))),
    [`open 10.0.0.2 ${N + 1}`]);
  assert.deepEqual(opens(knockAll(e, '10.0.0.2', portsOf(doors[0]!, N + 2), inStep(N + 1, 5000))),
    [`extend 10.0.0.2 ${N + 2}`]);
});

test('a wrong port of the range ends the attempt; ports outside it and other doors\' ports are not the door\'s', () => {
  const doors = doorsOf(`${timedConf('20000-20100')}\n[S]\nsequence = 20050,20051\n`);
  assert.ok(timedOf(doors[0]).exclude.includes(20050), 'a static port of another door is never drawn');
  const e = new Engine(doors, opts);
  const seq = portsOf(doors[0]!, N);
  const wrong = [...Array(101).keys()].map((i) => 20000 + i)
    .find((p) => !seq.includes(p) && p !== 20050 && p !== 20051)!;
  const ds = [...e.knock(ev('10.0.0.2', seq[0]!), inStep(N)), ...e.knock(ev('10.0.0.2', 30000), inStep(N, 10_001)),
    ...e.knock(ev('10.0.0.2', seq[1]!, 'udp'), inStep(N, 10_002))];
  assert.deepEqual(ds.map((d) => `${d.event}${stageOf(d) ?? ''}`), ['stage1'],
    'outside the range or of another protocol: unseen');
  assert.deepEqual(e.knock(ev('10.0.0.2', wrong), inStep(N, 10_003)), []);
  assert.deepEqual(opens(knockAll(e, '10.0.0.2', seq.slice(1), inStep(N, 10_004))), []);
  assert.deepEqual(opens(knockAll(e, '10.0.0.2', seq, inStep(N, 10_500))), [`open 10.0.0.2 ${N}`]);
});

test('steps whose sequences share a first port: one attempt holds them all, and the right one opens', () => {
  // A range of 4 ports makes shared first ports common.
  const doors = doorsOf(timedConf('20000-20003', 'sequence_length = 2\n'));
  const d = doors[0]!;
  let step = N;
  while (!(portsOf(d, step - 1)[0] === portsOf(d, step)[0] && portsOf(d, step - 1)[1] !== portsOf(d, step)[1])) step++;
  const e = new Engine(doors, opts);
  const [first, second] = portsOf(d, step);
  assert.deepEqual(e.knock(ev('10.0.0.2', first!), inStep(step)).map((x) => `${x.event}${stageOf(x)}`), ['stage1']);
  // One attempt however many candidate steps (a flood at a port shared by several costs one).
  assert.equal(e.stats().attempts, 1);
  assert.deepEqual(opens(e.knock(ev('10.0.0.2', second!), inStep(step, 10_100))), [`open 10.0.0.2 ${step}`]);
  assert.equal(e.stats().attempts, 0);
  // The step before, not used, still opens (once).
  assert.deepEqual(opens(knockAll(e, '10.0.0.3', portsOf(d, step - 1), inStep(step, 11_000))),
    [`open 10.0.0.3 ${step - 1}`]);
});

test('after a wall clock step back, the reader\'s clock runs ahead: '
  + 'time steps are still those of the wall clock', () => {
  // The reader's knocks and timers run on a clock that never goes back; after a step back of 5 minutes it is
  // 5 minutes ahead of the wall clock, which is what the client derives its sequence from (and the executor checks).
  const doors = doorsOf(timedConf());
  const e = new Engine(doors, opts);
  const lead = 5 * 60_000;
  const wall = inStep(N);
  const seq = portsOf(doors[0]!, N);
  const ds = seq.flatMap((p, i) => e.knock(ev('10.0.0.2', p), wall + lead + i * 100, wall + lead + i * 100, lead));
  assert.deepEqual(opens(ds), [`open 10.0.0.2 ${N}`]);
  assert.deepEqual(e.usedSteps(), [{ door: 'T', steps: [N] }]);
});
