// A spoofed flood against a bound time-based door with 1,000 users
// (Sequence_Secret_Dir, Sequence_Bind = address), beside a fixed door. The
// flood is 1,000,000 first knocks, each from a source of its own: at the fixed
// door's first port; at one user's first port of the current step (what an
// attacker who saw one knock would aim at: every packet starts an attempt);
// and at random ports of the door's range. Measured two ways: the engine alone
// (ns per packet, the median of N passes in a process of its own per case, so
// that one case's JIT and heap do not weigh on the next: what the door costs)
// and whole `knocklog replay` processes (lines/s, with parsing).

import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../src/config/index.js';
import { Engine } from '../src/engine/index.js';
import { encodeBase32, firstPort, timeStep } from '../src/totp/index.js';
import type { Door, KnockEvent } from '../src/types.js';
import { generateFlood, rng } from './generate.js';
import { measure } from './hostile.js';
import { median } from './stats.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const cli = join(here, '../src/cli.js');
const RUNS = Number(process.env['KNOCKLOG_BENCH_RUNS'] ?? 5);
const FLOOD = 1_000_000;
const USERS = 1000;
const LOW = 20000;
const HIGH = 29999;

const FIXED = `[fixed]
  sequence = 7000,8000,9000
  seq_timeout = 5
  start_command = true
  cmd_timeout = 10
  stop_command = true
`;
const BOUND = `[bound]
  sequence_secret_dir = users.d
  sequence_bind = address
  sequence_ports = ${LOW}-${HIGH}
  sequence_length = 3
  seq_timeout = 5
  start_command = true
  cmd_timeout = 10
  stop_command = true
`;

/** Engine only: ns per packet of `ports[i]` from source i, 2 µs apart from `t0`, on a fresh engine. */
function enginePass(doors: readonly Door[], sources: readonly string[], ports: Uint16Array, t0: number): number {
  const engine = new Engine(doors, { isLocal: () => true, maxSources: 100_000, iface: null });
  // One event refilled per packet, so that making events is not what is measured.
  const ev: { -readonly [K in keyof KnockEvent]: KnockEvent[K] } = {
    time: null, uptime: null, host: null, prefix: 'KNOCK', in: 'eth0', src: '', dst: '10.0.0.1', proto: 'tcp',
    spt: 0, dpt: 0, flags: ['SYN'],
  };
  const start = process.hrtime.bigint();
  for (let i = 0; i < sources.length; i++) {
    ev.src = sources[i]!;
    ev.spt = 1024 + (i % 60000);
    ev.dpt = ports[i]!;
    engine.knock(ev, t0 + i * 0.002);
  }
  return Number(process.hrtime.bigint() - start) / sources.length;
}

/** One case in a child process (see engineChild): the median ns per packet of RUNS passes. */
function engineBench(label: string, conf: string, ports: 'random' | number, t0: number): number {
  const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), 'engine', conf, String(ports), String(t0)], {
    encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'],
  });
  const ns = r.stdout.trim().split(/\s+/).map(Number);
  if (r.status !== 0 || ns.length !== RUNS || ns.some(Number.isNaN)) {
    throw new Error(`engine bench ${label} failed: ${r.stdout}`);
  }
  const m = median(ns);
  const range = `${Math.min(...ns).toFixed(0)}-${Math.max(...ns).toFixed(0)}`;
  console.log(`  engine, ${label}: median ${m.toFixed(0)} ns/packet of ${RUNS} passes (${range})`);
  return m;
}

/** The child: the flood (one port, or random ports of the range), RUNS passes; prints ns per packet of each. */
function engineChild(conf: string, ports: string, t0: number): void {
  const doors = loadConfig(conf, {}, { requireWritable: false }).doors;
  const sources = Array.from({ length: FLOOD }, (_, i) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);
  const r = rng(11);
  const dpt = ports === 'random'
    ? new Uint16Array(FLOOD).map(() => LOW + Math.floor(r() * (HIGH - LOW + 1)))
    : new Uint16Array(FLOOD).fill(Number(ports));
  const ns: number[] = [];
  for (let i = 0; i < RUNS; i++) ns.push(enginePass(doors, sources, dpt, t0));
  console.log(ns.map((n) => n.toFixed(1)).join(' '));
}

/** The time the first line of a flood file is taken at (knocklog parse's `time`, as replay places it). */
function floodStart(file: string): number {
  const r = spawnSync('sh', ['-c', `head -n 1 "$1" | node "$2" parse`, 'sh', file, cli], { encoding: 'utf8' });
  const time = (JSON.parse(r.stdout.split('\n')[0] ?? '') as { time: string }).time;
  return Date.parse(time);
}

export async function usersBench(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'knocklog-bench-users-'));
  try {
    mkdirSync(join(dir, 'users.d'), { mode: 0o700 });
    const r = rng(7);
    for (let u = 0; u < USERS; u++) {
      const secret = Buffer.from(Array.from({ length: 20 }, () => Math.floor(r() * 256)));
      writeFileSync(join(dir, 'users.d', `user${u}`), encodeBase32(secret), { mode: 0o600 });
    }
    const fixedConf = join(dir, 'fixed.conf');
    const boundConf = join(dir, 'bound.conf');
    writeFileSync(fixedConf, FIXED);
    writeFileSync(boundConf, BOUND);
    const bound = loadConfig(boundConf, {}, { requireWritable: false }).doors;
    const door = bound[0];
    const timed = door?.kind === 'timed' ? door.timed : undefined;
    if (timed?.users === undefined) throw new Error('the bound door has no users');

    const fixedFlood = join(dir, 'fixed.log');
    await generateFlood(fixedFlood, FLOOD, 7000);
    const t0 = floodStart(fixedFlood);
    const step = timeStep(t0, timed.stepMs);
    // The flood lasts 2 s from t0: one step, unless it starts within 2 s of the step's end.
    const target = firstPort(timed, step, timed.users[0]!.secretHex);
    const boundFlood = join(dir, 'bound.log');
    await generateFlood(boundFlood, FLOOD, target);

    const users = timed.users;
    const steps = [step - 1, step, step + 1];
    const firsts = new Set(steps.flatMap((s) => users.map((u) => firstPort(timed, s, u.secretHex))));
    console.log(`bound time-based door with ${USERS} users against a fixed door: ${FLOOD.toLocaleString('en')} ` +
      'spoofed first knocks, each from a source of its own, 2 µs apart, MaxSources 100,000');
    const f = engineBench('fixed door, flood at its first port', fixedConf, 7000, t0);
    const b = engineBench(`bound door, flood at user0's first port ${target}`, boundConf, target, t0);
    const rnd = engineBench(`bound door, flood at random ports of ${LOW}-${HIGH} (${firsts.size} of them are ` +
      'some user\'s first port in the 3 steps accepted)', boundConf, 'random', t0);
    console.log(`  ratio to the fixed door: ${(b / f).toFixed(2)}x (first port), ` +
      `${(rnd / f).toFixed(2)}x (random ports)`);
    measure('replay, fixed door', FLOOD, [cli, 'replay', '-c', fixedConf, fixedFlood]);
    measure(`replay, bound door, flood at port ${target}`, FLOOD, [cli, 'replay', '-c', boundConf, boundFlood]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [mode, conf, ports, t0] = process.argv.slice(2);
  if (mode === 'engine' && conf !== undefined && ports !== undefined) engineChild(conf, ports, Number(t0));
  else await usersBench();
}
