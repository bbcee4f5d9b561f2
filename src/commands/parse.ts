// `knocklog parse`: print the knock records a log holds, as JSON lines.

import type { Command } from 'commander';
import { Option } from 'commander';
import { eventJson } from '../parse/event-json.js';
import { FORMATS, parseLine, type Format, type ParseOptions } from '../parse/index.js';
import { inputBatches } from '../sources/lines.js';
import { Output } from './output.js';

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
  const opts: ParseOptions = { prefix: o.prefix, format: o.format, now: new Date() };
  const out = new Output();
  let n = 0;
  let knocks = 0;
  try {
    for await (const batch of inputBatches(files)) {
      for (const line of batch) {
        n++;
        const r = parseLine(line, opts);
        if (r.ok) {
          knocks++;
          out.line(eventJson(r.event));
        } else if (o.rejects) {
          out.line(JSON.stringify({ line: n, reject: r.reason }));
        }
      }
      await out.flush();
    }
  } catch (e) {
    await out.flush(true);
    process.stderr.write(`knocklog parse: ${(e as Error).message}\n`);
    return 1;
  }
  await out.flush(true);
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
