// `knocklog parse`: print the knock records a log holds, as JSON lines.

import type { Command } from 'commander';
import { Option } from 'commander';
import { availableParallelism } from 'node:os';
import { FORMATS, type Format } from '../parse/index.js';
import { countLines, inputChunks } from '../sources/lines.js';
import { Output } from './output.js';
import { parseChunk, type ChunkJob, type ChunkResult } from './parse-chunk.js';
import { ParsePool } from './parse-pool.js';

export interface ParseCommandOptions {
  format: Format;
  prefix: string;
  rejects: boolean;
}

export function formatOption(): Option {
  return new Option('--format <format>', 'what the input holds').choices(FORMATS as string[]).default('auto');
}

export function prefixOption(): Option {
  return new Option('--prefix <prefix>', 'the firewall log prefix that opens each record').default('KNOCK');
}

/** Bytes read before chunks go to worker threads: short inputs do not pay for starting them. */
const PARALLEL_AFTER = 4 << 20;
/** Chunks handed out and not yet printed, per worker: enough to keep each busy, and memory bounded. */
const AHEAD = 2;

export async function runParse(files: string[], o: ParseCommandOptions): Promise<number> {
  const job: ChunkJob = { opts: { prefix: o.prefix, format: o.format, now: new Date() }, rejects: o.rejects };
  const threads = Math.min(availableParallelism(), 4);
  const out = new Output();
  let pool: ParsePool | null = null;
  // Results in input order; a worker's may still be pending.
  const queue: Promise<ChunkResult>[] = [];
  let read = 0;
  let nextLine = 1;
  let n = 0;
  let knocks = 0;
  const print = async (): Promise<void> => {
    const r = await queue.shift()!;
    n += r.lines;
    knocks += r.knocks;
    await out.write(r.out);
  };
  let failure: Error | null = null;
  try {
    for await (const chunk of inputChunks(files)) {
      const firstLine = nextLine;
      // Only reject lines print a line number: do not count lines otherwise.
      if (o.rejects) nextLine += countLines(chunk);
      read += chunk.length;
      if (pool === null && threads > 1 && read > PARALLEL_AFTER) pool = new ParsePool(threads, job);
      if (pool === null) {
        queue.push(Promise.resolve(parseChunk(chunk, firstLine, job)));
      } else {
        const p = pool.run(chunk, firstLine);
        // Awaited in order below; a failure must not count as unhandled meanwhile.
        p.catch(() => {});
        queue.push(p);
      }
      while (queue.length > (pool === null ? 0 : threads * AHEAD)) await print();
    }
  } catch (e) {
    failure = e as Error;
  }
  try {
    // The lines read before a read error are printed too.
    while (queue.length > 0) await print();
  } catch (e) {
    failure ??= e as Error;
  }
  await pool?.close();
  if (failure !== null) {
    process.stderr.write(`knocklog parse: ${failure.message}\n`);
    return 1;
  }
  process.stderr.write(`knocklog parse: ${n} lines, ${knocks} knock records, ${n - knocks} not\n`);
  return 0;
}

export function registerParse(program: Command): void {
  program
    .command('parse')
    .description('print the firewall knock records in log lines as JSON, one per line (stdin when no FILE)')
    .argument('[file...]', 'log files to read')
    .addOption(formatOption())
    .addOption(prefixOption())
    .option('--rejects', 'also print {"line":N,"reject":"reason"} for every other line', false)
    .action(async (files: string[], o: ParseCommandOptions) => {
      process.exitCode = await runParse(files, o);
    });
}
