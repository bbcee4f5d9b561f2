// `knocklog replay`: run log lines through the engine with the lines' own
// times as the clock, and print what would have happened. Never runs a
// command and never writes a file (a one_time_sequences file is only read).

import type { Command } from 'commander';
import { LogClock } from '../clock.js';
import { ConfigError, loadConfig } from '../config/index.js';
import { Engine } from '../engine/index.js';
import { canonicalAddress } from '../net.js';
import type { Format } from '../parse/index.js';
import type { Decision, KnockEvent } from '../types.js';
import { configOption } from './check.js';
import { Output } from '../print/output.js';
import { visitChunk, type ChunkJob } from '../print/chunk.js';
import { readChunks } from '../print/read.js';
import { formatOption } from './parse.js';

export interface ReplayOptions {
  config: string;
  format: Format;
  prefix?: string;
  local?: string;
}

/** The last millisecond formatted, and as what: a flood's decisions share their millisecond by the hundred. */
let isoMs = NaN;
let isoText = '';

function isoTime(at: number): string {
  // A Date keeps whole milliseconds, truncated (a kernel stamp has microseconds).
  const ms = Math.trunc(at);
  if (ms !== isoMs) {
    isoText = JSON.stringify(new Date(ms).toISOString());
    isoMs = ms;
  }
  return isoText;
}

/**
 * The contract's JSON line for a decision: what JSON.stringify printed for
 * `{time, door, src, event, stage?}`, written out (measured: a fifth of
 * replay's time went into the object, the Date and the stringify).
 */
export function decisionJson(d: Decision, absolute: boolean): string {
  const time = absolute ? isoTime(d.at) : 'null';
  const stage = d.event === 'stage' || d.event === 'timeout' ? `,"stage":${d.stage}` : '';
  const who = `"door":${JSON.stringify(d.door)},"src":${JSON.stringify(d.src)}`;
  return `{"time":${time},${who},"event":"${d.event}"${stage}}`;
}

/** `--local 10.0.0.1,fd00::1`: the host's addresses; without it every destination counts as local. */
export function localAddresses(list: string | undefined): (addr: string) => boolean {
  if (list === undefined) return () => true;
  const set = new Set<string>();
  for (const item of list.split(',')) {
    const a = canonicalAddress(item.trim());
    if (a === null) {
      throw new ConfigError([`--local: "${item.trim()}" is not an IP address (give addresses separated by commas)`]);
    }
    set.add(a);
  }
  return (addr) => set.has(addr);
}

export async function runReplay(files: string[], o: ReplayOptions): Promise<number> {
  let config;
  let isLocal;
  try {
    config = loadConfig(o.config, o.prefix === undefined ? {} : { prefix: o.prefix }, { requireWritable: false });
    isLocal = localAddresses(o.local);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    process.stderr.write(`${e.message}\n`);
    return 1;
  }
  const engine = new Engine(config.doors, {
    isLocal,
    maxSources: config.options.maxSources,
    iface: config.options.interface,
  });
  const job: ChunkJob = { opts: { prefix: config.options.prefix, format: o.format, now: new Date() }, rejects: false };
  const clock = new LogClock();
  const out = new Output();
  let untimed = 0;
  const emit = (ds: Decision[]) => {
    for (const d of ds) out.line(decisionJson(d, clock.absolute));
  };
  const knock = (e: KnockEvent) => {
    const at = clock.at(e);
    if (at === null) untimed++;
    else emit(engine.knock(e, at));
  };
  const visitor = { fast: (f: { event(): KnockEvent }) => knock(f.event()), event: knock, reject: () => {} };
  const { lines, knocks, failure } = await readChunks(
    files,
    out,
    (chunk, first) => visitChunk(chunk, first, job, visitor),
    async () => {
      // What was still pending when the log ended: timeouts and closes, at their own times, a
      // millisecond's worth at a time (a flood leaves up to MaxSources attempts to time out at once).
      for (let next = engine.nextDeadline(); next !== null; next = engine.nextDeadline()) {
        emit(engine.tick(next + 1));
        await out.flush();
      }
    },
  );
  if (failure !== null) {
    process.stderr.write(`knocklog replay: ${failure.message}\n`);
    return 1;
  }
  const s = engine.stats();
  process.stderr.write(
    `knocklog replay: ${lines} lines, ${knocks} knock records` +
      `${untimed ? `, ${untimed} without a time stamp (skipped)` : ''}, ${s.evictions} attempts evicted\n`,
  );
  return 0;
}

export function registerReplay(program: Command): void {
  program
    .command('replay')
    .description(
      "run log lines through the doors of a config, with the lines' own times; prints decisions as JSON, runs nothing",
    )
    .argument('[file...]', 'log files to read (stdin when none)')
    .addOption(configOption())
    .addOption(formatOption())
    .option('--prefix <prefix>', 'the firewall log prefix (default: Prefix in [options], else KNOCK)')
    .option('--local <addrs>', "the host's addresses, comma-separated (default: every destination is local)")
    .action(async (files: string[], o: ReplayOptions) => {
      process.exitCode = await runReplay(files, o);
    });
}
