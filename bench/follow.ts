// The live daemon (`knocklog run`, its reader as knocklog when run as root)
// tailing a kern.log that grows at increasing rates, with generate.ts's mix
// of lines under fresh stamps. Every MARK_EVERY_MS a marker knock (its own
// source address) is appended; its lag is the time until the daemon logs its
// `Stage 1`. A rate is followed when every marker of its step came within 1 s.

import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { cli, openTempDir, removeDir } from '../test/helpers/daemon.js';
import { kernStamp, line, rng } from './generate.js';
import { childWith, cpuSeconds } from './proc.js';
import { summarize } from './stats.js';

const RATES = [1000, 5000, 10_000, 20_000, 30_000, 50_000, 100_000];
const STEP_MS = 10_000;
const BATCH_MS = 10;
const MARK_EVERY_MS = 250;
const FOLLOWED_MS = 1000;
/** A step whose markers have not all come this long after it ended ends the run. */
const DRAIN_MS = 30_000;

const CONF = (dir: string) => `[options]
  PidFile = ${join(dir, 'knocklog.pid')}
[bench]
  sequence = 7000,8000,9000
  seq_timeout = 5
  target = 10.0.0.1
  start_command = true
  cmd_timeout = 1
  stop_command = true
`;

const uptimeS = () => Number(process.hrtime.bigint() / 1000n) / 1e6;
const freshStamp = () => kernStamp(new Date(), uptimeS());
const MARK_RE = /"msg":"(10\.255\.\d+\.\d+): bench: Stage 1"/g;

/** `knocklog run -v` on one file; notes when each marker source's Stage 1 (a debug message) shows in its log. */
class Follower {
  readonly child: ChildProcess;
  readonly seen = new Map<string, number>();
  problems: string[] = [];
  private carry = '';

  constructor(conf: string, file: string, state: string) {
    const argv = [cli, 'run', '-v', '-c', conf, '-s', `file:${file}`, '--state-dir', state];
    this.child = spawn(process.execPath, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout!.setEncoding('utf8').on('data', (chunk: string) => this.scan(chunk));
    this.child.stderr!.setEncoding('utf8').on('data', (c: string) => this.problems.push(c.trim()));
  }

  private scan(chunk: string): void {
    const now = performance.now();
    const text = this.carry + chunk;
    const end = text.lastIndexOf('\n') + 1;
    this.carry = text.slice(end);
    const done = text.slice(0, end);
    for (const m of done.matchAll(MARK_RE)) if (!this.seen.has(m[1]!)) this.seen.set(m[1]!, now);
    // Warnings and errors (level 40+) are worth printing; there are few.
    if (done.includes('"level":40') || done.includes('"level":50')) {
      for (const l of done.split('\n')) if (/"level":[45]0/.test(l) && this.problems.length < 10) this.problems.push(l);
    }
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise((r) => this.child.once('exit', r));
    this.child.kill('SIGTERM');
    await exited;
  }
}

let markCount = 0;
function markerLine(): { src: string; text: string } {
  const k = ++markCount;
  const src = `10.255.${(k >> 8) & 255}.${k & 255}`;
  const text =
    `${freshStamp()}KNOCK IN=eth0 OUT= MAC=2e:cb:25:4d:68:c8:a2:02:1d:49:d3:4c:08:00 SRC=${src} DST=10.0.0.1 ` +
    'LEN=60 TOS=0x00 PREC=0x00 TTL=64 ID=1 DF PROTO=TCP SPT=40000 DPT=7000 WINDOW=64240 RES=0x00 SYN URGP=0 \n';
  return { src, text };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitSeen(f: Follower, srcs: string[], timeoutMs: number): Promise<boolean> {
  const until = performance.now() + timeoutMs;
  while (srcs.some((s) => !f.seen.has(s))) {
    if (performance.now() > until || f.child.exitCode !== null) return false;
    await sleep(5);
  }
  return true;
}

/** With no saved position the reader starts at the end it finds: markers until one is seen. */
async function waitReading(f: Follower, fd: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const m = markerLine();
    writeSync(fd, m.text);
    if (await waitSeen(f, [m.src], 300)) return;
  }
  throw new Error(`the daemon never read the file: ${f.problems.join('\n')}`);
}

interface Step {
  rate: number;
  /** Lines per second actually written. */
  written: number;
  lagsMs: number[];
  /** All markers came; false: some still missing DRAIN_MS after the step. */
  complete: boolean;
  readerCpu: number;
  executorCpu: number;
}

/** Appends `rate` lines a second for STEP_MS in BATCH_MS batches, a marker every MARK_EVERY_MS. */
async function step(f: Follower, fd: number, rate: number, r: () => number, reader: number | null): Promise<Step> {
  const marks = new Map<string, number>();
  const cpu0 = [cpuSeconds(reader ?? -1), cpuSeconds(f.child.pid!)];
  const t0 = performance.now();
  let written = 0;
  let nextMark = t0;
  for (let now = t0; now - t0 < STEP_MS; now = performance.now()) {
    const due = Math.floor((rate * (now - t0)) / 1000) - written;
    let buf = '';
    if (due > 0) {
      const stamp = freshStamp();
      for (let i = 0; i < due; i++) buf += `${line(r, written + i, stamp)}\n`;
      written += due;
    }
    if (now >= nextMark) {
      const m = markerLine();
      buf += m.text;
      marks.set(m.src, now);
      nextMark += MARK_EVERY_MS;
    }
    if (buf !== '') writeSync(fd, buf);
    await sleep(BATCH_MS);
  }
  const elapsed = performance.now() - t0;
  const complete = await waitSeen(f, [...marks.keys()], DRAIN_MS);
  const cpu1 = [cpuSeconds(reader ?? -1), cpuSeconds(f.child.pid!)];
  const lagsMs = [...marks].map(([src, at]) => (f.seen.get(src) ?? Infinity) - at);
  return {
    rate, written: (written * 1000) / elapsed, lagsMs, complete,
    readerCpu: (cpu1[0]! - cpu0[0]!) / (elapsed / 1000), executorCpu: (cpu1[1]! - cpu0[1]!) / (elapsed / 1000),
  };
}

export async function followThroughput(): Promise<void> {
  const dir = openTempDir('bench-follow');
  const file = join(dir, 'kern.log');
  const conf = join(dir, 'knockd.conf');
  writeFileSync(conf, CONF(dir));
  writeFileSync(file, '', { mode: 0o644 });
  const fd = openSync(file, 'a');
  const f = new Follower(conf, file, join(dir, 'state'));
  try {
    await waitReading(f, fd);
    const reader = childWith(f.child.pid!, 'reader.js');
    const who = process.getuid?.() === 0 ? 'as root, its reader as knocklog' : 'as this user (not root)';
    console.log(
      `live daemon following a growing kern.log (knocklog run ${who}): ${STEP_MS / 1000} s per rate, ` +
        `a marker knock every ${MARK_EVERY_MS} ms, lag = marker appended -> its Stage 1 logged`,
    );
    const r = rng(7);
    let best = 0;
    for (const rate of RATES) {
      const res = await step(f, fd, rate, r, reader);
      const lag = summarize(res.lagsMs);
      const fmt = (v: number) => (Number.isFinite(v) ? `${v.toFixed(0)} ms` : `> ${DRAIN_MS / 1000} s`);
      const ok = res.complete && lag.max < FOLLOWED_MS;
      console.log(
        `  ${String(rate).padStart(6)} lines/s (written ${Math.round(res.written)}/s): ` +
          `lag median ${fmt(lag.median)}, p95 ${fmt(lag.p95)}, max ${fmt(lag.max)}; ` +
          `CPU reader ${(res.readerCpu * 100).toFixed(0)}%, executor ${(res.executorCpu * 100).toFixed(0)}% of a core` +
          `${ok ? '' : '  <- not followed'}`,
      );
      if (!ok) break;
      best = rate;
    }
    console.log(
      `  highest rate followed with lag < ${FOLLOWED_MS} ms: ${best ? `${best} lines/s` : 'none'}` +
        `${best === RATES.at(-1) ? ' (the highest tried)' : ''}`,
    );
    if (f.problems.length) console.log(`  the daemon reported:\n    ${f.problems.join('\n    ')}`);
  } finally {
    closeSync(fd);
    await f.stop();
    removeDir(dir);
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await followThroughput();
