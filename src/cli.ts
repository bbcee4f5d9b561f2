#!/usr/bin/env node
// knocklog's command line: each subcommand lives in src/commands/ and registers itself here.
import './daemon/no-inspector.js';
import { Command } from 'commander';
import { registerCheck } from './commands/check.js';
import { registerKnock } from './commands/knock.js';
import { registerParse } from './commands/parse.js';
import { registerReplay } from './commands/replay.js';
import { registerRules } from './commands/rules.js';
import { registerRun } from './commands/run.js';
import { registerStatus } from './commands/status.js';

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

// Subcommands (one line each, keep sorted):
registerCheck(program);
registerKnock(program);
registerParse(program);
registerReplay(program);
registerRules(program);
registerRun(program);
registerStatus(program);

await program.parseAsync(process.argv);
