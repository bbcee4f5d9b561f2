// `knocklog run`: the daemon (src/daemon/).

import type { Command } from 'commander';
import { runDaemon } from '../daemon/daemon.js';
import type { OptionOverrides } from '../types.js';
import { configOption } from './check.js';

interface RunFlags {
  config: string;
  source?: string[];
  stateDir?: string;
  interface?: string;
  prefix?: string;
  dryRun?: boolean;
  verbose?: boolean;
  debug?: boolean;
}

export function registerRun(program: Command): void {
  program
    .command('run')
    .description('run the daemon: read the firewall log, open and close doors')
    .addOption(configOption())
    .option('-s, --source <source>',
      'file:PATH, ulogd:PATH, ulogd-socket:PATH, journal, kmsg or stdin '
        + '(repeatable; default file:/var/log/kern.log, else journal)',
      (v: string, prev: string[] = []) => [...prev, v])
    .option('--state-dir <dir>', 'where open doors and log positions are kept (default /var/lib/knocklog)')
    .option('-i, --interface <name>', 'only knocks that came in on this interface count')
    .option('--prefix <prefix>', 'the firewall log prefix (default: Prefix in [options], else KNOCK)')
    .option('--dry-run', 'log the commands instead of running them')
    .option('-v, --verbose', 'debug messages; human-readable on a terminal')
    .option('-D, --debug', 'the same as -v (knockd\'s flag)')
    .action(async (f: RunFlags) => {
      const overrides: OptionOverrides = {};
      if (f.source !== undefined) overrides.sources = f.source;
      if (f.stateDir !== undefined) overrides.stateDir = f.stateDir;
      if (f.interface !== undefined) overrides.interface = f.interface;
      if (f.prefix !== undefined) overrides.prefix = f.prefix;
      process.exitCode = await runDaemon({
        config: f.config, overrides, dryRun: f.dryRun ?? false, verbose: (f.verbose ?? false) || (f.debug ?? false),
      });
    });
}
