// `knocklog parse`: print the knock records a log holds, as JSON lines.

import type { Command } from 'commander';
import { Option } from 'commander';
import { FORMATS, type Format } from '../parse/index.js';
import { Output } from '../print/output.js';
import { parseChunk, type ChunkJob } from '../print/chunk.js';
import { readChunks } from '../print/read.js';

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

export async function runParse(files: string[], o: ParseCommandOptions): Promise<number> {
  const job: ChunkJob = { opts: { prefix: o.prefix, format: o.format, now: new Date() }, rejects: o.rejects };
  const out = new Output();
  const { lines, knocks, failure } = await readChunks(files, out, (chunk, first) =>
    parseChunk(chunk, first, job, out.sink),
  );
  if (failure !== null) {
    process.stderr.write(`knocklog parse: ${failure.message}\n`);
    return 1;
  }
  process.stderr.write(`knocklog parse: ${lines} lines, ${knocks} knock records, ${lines - knocks} not\n`);
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
