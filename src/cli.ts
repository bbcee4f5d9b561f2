#!/usr/bin/env node
// knocklog's command line: each subcommand lives in src/commands/ and registers itself here.
import './daemon/no-inspector.js';
import { Command } from 'commander';

const program = new Command()
  .name('knocklog')
  .description("Port knocking from the kernel's firewall log; a drop-in for knockd")
  .version('0.1.0')
  .showHelpAfterError();

// A reader that stops early (`knocklog check | head -1`) closes the pipe: end
// quietly, as any filter does. Not for the daemon, whose exit must stay visible.
program.hook('preAction', (_, command) => {
  if (command.name() === 'run') return;
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EPIPE') process.exit(0);
      throw e;
    });
  }
});

// Subcommands (one line each, keep sorted). Only the one asked for is loaded (all of them for help or a
// mistake): loading every module cost about 35 ms, a twentieth of `knocklog parse` over a million lines.
const COMMANDS: Record<string, () => Promise<(program: Command) => void>> = {
  check: async () => (await import('./commands/check.js')).registerCheck,
  knock: async () => (await import('./commands/knock.js')).registerKnock,
  parse: async () => (await import('./commands/parse.js')).registerParse,
  replay: async () => (await import('./commands/replay.js')).registerReplay,
  rules: async () => (await import('./commands/rules.js')).registerRules,
  run: async () => (await import('./commands/run.js')).registerRun,
  status: async () => (await import('./commands/status.js')).registerStatus,
};
const asked = process.argv[2] ?? '';
for (const name of Object.hasOwn(COMMANDS, asked) ? [asked] : Object.keys(COMMANDS)) (await COMMANDS[name]!())(program);

await program.parseAsync(process.argv);
