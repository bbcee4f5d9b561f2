// `knocklog status`: the open doors, from the daemon's state directory.

import type { Command } from 'commander';
import { peekState } from '../actions/state.js';
import { DEFAULT_OPTIONS } from '../config/index.js';

interface StatusFlags {
  stateDir: string;
  json?: boolean;
}

export async function runStatus(o: StatusFlags, now = Date.now()): Promise<number> {
  const state = await peekState(o.stateDir);
  if ('problem' in state) {
    process.stderr.write(
      `knocklog status: cannot read the state in ${o.stateDir}: ${state.problem} (is --state-dir the daemon's?)\n`,
    );
    return 1;
  }
  const open = [...state.open].sort((a, b) => a.closeAt - b.closeAt);
  if (o.json) {
    const list = open.map((r) => ({
      door: r.door, src: r.src, closeAt: new Date(r.closeAt).toISOString(),
      ...(r.user === undefined ? {} : { user: r.user }),
    }));
    process.stdout.write(`${JSON.stringify(list)}\n`);
    return 0;
  }
  if (open.length === 0) {
    process.stdout.write('no open doors\n');
    return 0;
  }
  // A USER column only where doors have users (Sequence_Secret_Dir): other tables stay as they were.
  const users = open.some((r) => r.user !== undefined);
  const rows = open.map((r) => {
    const left = Math.round((r.closeAt - now) / 1000);
    const when = left >= 0 ? `in ${left} s` : `overdue by ${-left} s, retrying`;
    const closes = `${new Date(r.closeAt).toISOString()} (${when})`;
    return [r.door, r.src, ...(users ? [r.user ?? '-'] : []), closes];
  });
  const head = ['DOOR', 'SOURCE', ...(users ? ['USER'] : []), 'CLOSES'];
  const width = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const last = head.length - 1;
  for (const r of [head, ...rows]) {
    process.stdout.write(`${r.map((c, i) => (i < last ? c.padEnd(width[i]!) : c)).join('  ')}\n`);
  }
  return 0;
}

export function registerStatus(program: Command): void {
  program
    .command('status')
    .description('print the open doors, their sources and close times')
    .option('--state-dir <dir>', 'the daemon\'s state directory', DEFAULT_OPTIONS.stateDir)
    .option('--json', 'print a JSON list instead of a table')
    .action(async (o: StatusFlags) => {
      process.exitCode = await runStatus(o);
    });
}
