// `knocklog parse` and `knocklog replay` over 1,000,000 generated lines against
// a plain readline loop over the same file: whole processes, median of 5 runs.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generate } from './generate.js';
import { median } from './stats.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const cli = join(here, '../src/cli.js');

/** Wall time in seconds of `node ARGS`, stdout discarded. */
function timed(args: string[]): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`node ${args.join(' ')} failed: ${r.stderr}`);
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

export interface Throughput {
  label: string;
  linesPerSecond: number;
}

/** Runs each command `runs` times, interleaved; lines/s from the median wall time. */
export function compare(lines: number, commands: { label: string; args: string[] }[], runs = 5): Throughput[] {
  const times = commands.map(() => [] as number[]);
  for (let i = 0; i < runs; i++) {
    for (const [j, c] of commands.entries()) times[j]!.push(timed(c.args));
  }
  return commands.map((c, j) => ({ label: c.label, linesPerSecond: lines / median(times[j]!) }));
}

/** A door on ports the generated lines knock on (7000, 8000, 9000; generate.ts), so replay opens doors. */
const REPLAY_CONF = `[options]
[bench]
  sequence = 7000,8000,9000
  seq_timeout = 5
  start_command = true
  cmd_timeout = 10
  stop_command = true
`;

export async function parseThroughput(lines = 1_000_000): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'knocklog-bench-'));
  try {
    const file = join(dir, 'kern.log');
    const conf = join(dir, 'knockd.conf');
    writeFileSync(conf, REPLAY_CONF);
    await generate(file, lines);
    console.log(
      `parse/replay throughput: ${lines} generated lines (${(statSync(file).size / 1e6).toFixed(0)} MB), ` +
        'median of 5 runs, whole processes',
    );
    const [parse, replay, baseline] = compare(lines, [
      { label: 'knocklog parse', args: [cli, 'parse', file] },
      { label: 'knocklog replay', args: [cli, 'replay', '-c', conf, file] },
      { label: 'readline loop', args: [join(here, 'readline-loop.js'), file] },
    ]);
    for (const t of [parse!, replay!, baseline!]) {
      console.log(`  ${t.label.padEnd(16)} ${Math.round(t.linesPerSecond).toLocaleString('en')} lines/s`);
    }
    console.log(
      `  ratio parse/readline:  ${(parse!.linesPerSecond / baseline!.linesPerSecond).toFixed(2)} (goal >= 0.8)`,
    );
    console.log(`  ratio replay/readline: ${(replay!.linesPerSecond / baseline!.linesPerSecond).toFixed(2)}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await parseThroughput();
