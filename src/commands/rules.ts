// `knocklog rules`: print the LOG/NFLOG rules that make a config's knocks
// visible in the kernel log, for iptables-restore --noflush or nft -f.

import type { Command } from 'commander';
import { Option } from 'commander';
import { ConfigError, loadConfig } from '../config/index.js';
import {
  type Backend, DEFAULT_SOCKET, generateRules, orderingWarnings, RulesError, ulogdConf, type Via,
} from '../rules/index.js';
import { configOption } from './check.js';

interface RulesCommandOptions {
  config: string;
  backend: Backend;
  via: Via;
  prefix?: string;
  group?: string;
  family?: string;
  jump: boolean;
  ulogdConf?: boolean;
}

/** Runs the command; returns the exit status. */
export function runRules(
  o: RulesCommandOptions,
  out: NodeJS.WritableStream = process.stdout,
  err: NodeJS.WritableStream = process.stderr,
): number {
  const fail = (message: string): number => {
    err.write(`knocklog rules: ${message}\n`);
    return 1;
  };
  if (o.group !== undefined && o.via !== 'nflog' && o.ulogdConf !== true) {
    return fail('--group applies to NFLOG rules only (add --via nflog)');
  }
  if (o.family !== undefined && o.backend !== 'iptables') {
    return fail("--family applies to --backend iptables only (nft's inet table holds IPv4 and IPv6)");
  }
  if (o.group !== undefined && !/^\d+$/.test(o.group)) {
    return fail(`--group "${o.group}" is not a number from 0 to 65535`);
  }
  try {
    // Only reads one_time_sequences files, so they need not be writable here.
    const config = loadConfig(o.config, o.prefix === undefined ? {} : { prefix: o.prefix }, { requireWritable: false });
    const group = o.group === undefined ? 0 : Number(o.group);
    if (o.ulogdConf === true) {
      const socket = config.options.sources.find((s) => s.startsWith('ulogd-socket:'))?.slice('ulogd-socket:'.length);
      out.write(ulogdConf(group, socket ?? DEFAULT_SOCKET));
      return 0;
    }
    out.write(generateRules(config, {
      backend: o.backend,
      via: o.via,
      prefix: config.options.prefix,
      group,
      family: o.family === '6' ? 6 : 4,
      jump: o.jump,
    }));
    for (const w of orderingWarnings(config)) err.write(`knocklog rules: warning: ${w}\n`);
    return 0;
  } catch (e) {
    if (e instanceof ConfigError) return fail(`cannot read the config:\n${e.errors.join('\n')}`);
    if (e instanceof RulesError) return fail(e.message);
    throw e;
  }
}

export function registerRules(program: Command): void {
  program
    .command('rules')
    .description(
      'print the firewall rules that log the knocks of a knockd.conf (for iptables-restore --noflush or nft -f)',
    )
    .addOption(configOption())
    .addOption(new Option('--backend <backend>', 'the firewall tool').choices(['iptables', 'nft']).default('iptables'))
    .addOption(
      new Option('--via <target>', 'LOG to the kernel log, or NFLOG to ulogd2')
        .choices(['log', 'nflog'])
        .default('log'),
    )
    .option('--prefix <prefix>', "the log prefix (default: the config's Prefix, else KNOCK)")
    .option('--group <n>', 'the NFLOG group (--via nflog; default 0)')
    .addOption(
      new Option('--family <n>', 'iptables: 4 for iptables-restore, 6 for ip6tables-restore (default 4)')
        .choices(['4', '6']),
    )
    .option('--no-jump', 'iptables: leave out the "-I INPUT 1" jump, to refill the chains of a loaded ruleset')
    .option('--ulogd-conf', "instead of rules, the ulogd.conf that takes --via nflog's packets to the ulogd-socket "
      + `source (Sources' path, else ${DEFAULT_SOCKET})`)
    .action((o: RulesCommandOptions) => {
      process.exitCode = runRules(o);
    });
}
