// Hostile input, whole processes: `knocklog replay` over a spoofed flood of
// 1,000,000 distinct first knocks (at the default MaxSources, and uncapped),
// and `knocklog parse` over a 100 MB line without a newline followed by a
// knock (from a file and from stdin). Wall time is the median of N runs
// (KNOCKLOG_BENCH_RUNS, default 5); memory is the highest peak RSS seen.

import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateFlood, kernStamp, tcpKnock } from './generate.js';
import { median } from './stats.js';

const here = fileURLToPath(new URL('.', import.meta.url));
const cli = join(here, '../src/cli.js');
const RUNS = Number(process.env['KNOCKLOG_BENCH_RUNS'] ?? 5);
/** A run that takes longer is stopped and reported as such (the old quadratic paths took minutes). */
const LIMIT_S = Number(process.env['KNOCKLOG_BENCH_LIMIT_S'] ?? 300);
const FLOOD_LINES = 1_000_000;
const LONG_LINE = 100 << 20;

interface Run {
  seconds: number;
  peakMb: number;
  stderr: string;
}

/** One whole process: wall time, peak RSS (from ./maxrss.js), or null when it did not end within LIMIT_S. */
function run(args: string[], stdin: string | null): Run | null {
  const t0 = process.hrtime.bigint();
  const input = stdin === null ? 'ignore' : openSync(stdin, 'r');
  const r = spawnSync(process.execPath, ['--import', join(here, 'maxrss.js'), ...args], {
    stdio: [input, 'ignore', 'pipe'], encoding: 'utf8', timeout: LIMIT_S * 1000, maxBuffer: 1 << 26,
  });
  if (typeof input === 'number') closeSync(input);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.signal !== null) return null;
  if (r.status !== 0) throw new Error(`node ${args.join(' ')} failed: ${r.stderr}`);
  const kb = Number(/maxrss-kb (\d+)/.exec(r.stderr)?.[1] ?? NaN);
  return { seconds, peakMb: kb / 1024, stderr: r.stderr.replace(/\s*maxrss-kb \d+\s*$/, '') };
}

/** `label: 123,456 lines/s (median 1.23 s of 5), peak RSS 80.0 MB`; without `lines`, the time only. */
export function measure(label: string, lines: number | null, args: string[], stdin: string | null = null): void {
  const runs: Run[] = [];
  for (let i = 0; i < RUNS; i++) {
    const r = run(args, stdin);
    if (r === null) {
      console.log(`  ${label}: did not finish within ${LIMIT_S} s (stopped)`);
      return;
    }
    runs.push(r);
  }
  const s = median(runs.map((r) => r.seconds));
  const peak = Math.max(...runs.map((r) => r.peakMb));
  const last = runs.at(-1)!.stderr.trim().split('\n').at(-1);
  const rate = lines === null ? '' : `${Math.round(lines / s).toLocaleString('en')} lines/s, `;
  console.log(`  ${label}: ${rate}median ${s.toFixed(2)} s of ${runs.length}, peak RSS ${peak.toFixed(1)} MB; ${last}`);
}

const CONF = (maxSources: number | null) => `[options]
${maxSources === null ? '' : `  MaxSources = ${maxSources}\n`}[bench]
  sequence = 7000,8000,9000
  seq_timeout = 5
  start_command = true
  cmd_timeout = 10
  stop_command = true
`;

/** A 100 MB line without a newline, then one knock record. */
function writeLongLine(path: string): void {
  const fd = openSync(path, 'w');
  const block = Buffer.alloc(1 << 20, 'x');
  for (let n = 0; n < LONG_LINE; n += block.length) writeSync(fd, block);
  writeSync(fd, `\n${tcpKnock(kernStamp(new Date(), 9000), '10.0.0.2', 7000, 1)}\n`);
  closeSync(fd);
}

export async function hostileInput(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'knocklog-bench-'));
  try {
    const flood = join(dir, 'flood.log');
    await generateFlood(flood, FLOOD_LINES, 7000);
    const capped = join(dir, 'capped.conf');
    const uncapped = join(dir, 'uncapped.conf');
    writeFileSync(capped, CONF(null));
    writeFileSync(uncapped, CONF(2_000_000));
    console.log(`hostile input: whole processes, median of ${RUNS} runs, peak RSS the highest of them`);
    console.log(`  replay of ${FLOOD_LINES.toLocaleString('en')} distinct first knocks ` +
      '(goal >= 300,000 lines/s, peak RSS < 150 MB capped, < 400 MB uncapped)');
    measure('MaxSources default (100,000)', FLOOD_LINES, [cli, 'replay', '-c', capped, flood]);
    measure('MaxSources 2,000,000', FLOOD_LINES, [cli, 'replay', '-c', uncapped, flood]);
    rmSync(flood);
    const long = join(dir, 'long.log');
    writeLongLine(long);
    console.log(`  parse of a ${LONG_LINE >> 20} MiB line without a newline, then a knock record`);
    measure('file', null, [cli, 'parse', long]);
    measure('stdin', null, [cli, 'parse'], long);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await hostileInput();
