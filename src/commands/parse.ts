// `knocklog parse`: print the knock records a log holds, as JSON lines.

import type { Command } from 'commander';
import { Option } from 'commander';
import { FORMATS, type Format } from '../parse/index.js';
import { readAhead } from '../sources/ahead.js';
import { inputChunks } from '../sources/lines.js';
import { Output } from '../print/output.js';
import { parseChunk, type ChunkJob } from '../print/chunk.js';

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
  let lines = 0;
  let knocks = 0;
  let failure: Error | null = null;
  try {
    for await (const chunk of readAhead(inputChunks(files))) {
      const r = parseChunk(chunk, lines + 1, job, out.sink);
      lines += r.lines;
      knocks += r.knocks;
      await out.flush();
    }
  } catch (e) {
    failure = e as Error;
  }
  try {
    // The lines read before a read error are printed too.
    await out.flush(true);
  } catch (e) {
    failure ??= e as Error;
  }
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
