// `knocklog knock`: the knock client (knockd's `knock`), plus --wait to see
// how long the door takes to open.

import type { Command } from 'commander';
import { bindAddress } from '../knock/bind.js';
import { timedFromConfig, timedFromOptions, timedHits, type TimedKnock } from '../knock/timed.js';
import type { Hit } from '../knock/index.js';
import { configOption } from './check.js';
import {
  type FamilyChoice, knock, KnockUsageError, loadServices, parseHit, parseMs, parseWaitPort, resolveHost, type Services,
  waitForPort,
} from '../knock/index.js';

interface KnockCommandOptions {
  u?: boolean;
  d?: string;
  4?: boolean;
  6?: boolean;
  v?: boolean;
  wait?: string;
  waitTimeout: string;
  secretFile?: string;
  length?: string;
  step?: string;
  ports?: string;
  exclude?: string;
  door?: string;
  user?: string;
  bind?: string;
  config: string;
}

/** The hits: the PORT arguments; or a time-based door, whose sequence is derived once the host is known. */
function hitsOf(ports: string[], o: KnockCommandOptions, services: () => Services): Hit[] | TimedKnock {
  const timedOnly = (['length', 'step', 'ports', 'exclude', 'bind'] as const).filter((k) => o[k] !== undefined);
  if (o.secretFile === undefined && o.door === undefined) {
    if (timedOnly.length > 0) {
      throw new KnockUsageError(`--${timedOnly[0]} goes with --secret-file or --door (a time-based door)`);
    }
    if (o.user !== undefined) throw new KnockUsageError('--user goes with --door (a door with Sequence_Secret_Dir)');
    if (ports.length === 0) {
      throw new KnockUsageError('give the ports to knock, or --secret-file FILE --ports LOW-HIGH, or --door NAME');
    }
    return ports.map((p) => parseHit(p, o.u === true, services));
  }
  if (ports.length > 0) {
    throw new KnockUsageError(
      'a time-based door computes its ports: give no PORT arguments with --secret-file or --door',
    );
  }
  if (o.u) {
    throw new KnockUsageError(
      '-u does not apply to a time-based door: its range sets the protocol (e.g. --ports 20000-29999:udp)',
    );
  }
  if (o.door !== undefined) {
    if (o.secretFile !== undefined || timedOnly.some((k) => k !== 'bind')) {
      throw new KnockUsageError(
        '--door takes the settings from the config (-c): ' +
          'leave out --secret-file, --length, --step, --ports and --exclude',
      );
    }
    const k = timedFromConfig(o.config, o.door, o.user);
    if (k.t.bind === undefined && o.bind !== undefined) {
      throw new KnockUsageError(`door [${o.door}] has no Sequence_Bind: leave out --bind`);
    }
    if (k.t.bind !== undefined && o.bind === undefined) {
      throw new KnockUsageError(`door [${o.door}] binds its sequences to the knocking address: give --bind auto, ` +
        'or --bind ADDR with the address the server sees (behind NAT: the public one)');
    }
    return k;
  }
  if (o.user !== undefined) {
    throw new KnockUsageError('--user goes with --door; with --secret-file, give the user\'s own secret file');
  }
  if (o.ports === undefined) {
    throw new KnockUsageError("--secret-file needs --ports LOW-HIGH, the door's Sequence_Ports");
  }
  const settings = { secretFile: o.secretFile!, ports: o.ports, length: o.length, step: o.step, exclude: o.exclude };
  return timedFromOptions(settings, o.bind !== undefined);
}

const DEFAULT_WAIT_TIMEOUT_MS = 10000;
/** How often --wait tries a connection. */
const WAIT_EVERY_MS = 5;

/**
 * Runs the command; returns the exit status (0 even when hits fail, as knock; 1 for bad arguments or a closed
 * --wait port).
 */
export async function runKnock(host: string, ports: string[], o: KnockCommandOptions): Promise<number> {
  let services: Services | undefined;
  const lazyServices = (): Services => (services ??= loadServices());
  try {
    if (o[4] && o[6]) throw new KnockUsageError('-4 and -6 exclude each other (give one of them)');
    const delayMs = o.d === undefined ? 0 : parseMs(o.d, '-d', 0);
    const timeoutMs = parseMs(o.waitTimeout, '--wait-timeout', 1);
    const waitPort = o.wait === undefined ? null : parseWaitPort(o.wait, lazyServices);
    const plan = hitsOf(ports, o, lazyServices);
    const family: FamilyChoice = o[4] ? 4 : o[6] ? 6 : 0;
    const address = await resolveHost(host, family);
    let bind: string | null = null;
    if (o.bind !== undefined) {
      const b = await bindAddress(o.bind, address);
      if (b.warning !== null) process.stderr.write(`knocklog knock: ${b.warning}\n`);
      bind = b.address;
    }
    const hits = Array.isArray(plan) ? plan : timedHits(plan, Date.now(), bind);
    const last = await knock(address, hits, {
      delayMs,
      ...(o.v ? { onHit: (h) => process.stdout.write(`hitting ${h.proto} ${address}:${h.port}\n`) } : {}),
      onError: (h, e) => process.stderr.write(`knocklog knock: ${h.proto} ${address}:${h.port}: ${e.message}\n`),
    });
    if (waitPort === null) return 0;
    const r = await waitForPort(address, waitPort, { timeoutMs, everyMs: WAIT_EVERY_MS, since: last });
    process.stdout.write(`port ${waitPort} ${r.open ? 'open' : 'still closed'} after ${r.ms} ms\n`);
    return r.open ? 0 : 1;
  } catch (e) {
    if (!(e instanceof KnockUsageError)) throw e;
    process.stderr.write(`knocklog knock: ${e.message}\n`);
    return 1;
  }
}

export function registerKnock(program: Command): void {
  program
    .command('knock')
    .description("knock on HOST's ports in order, as knockd's knock client does (exit 0 even when a hit fails)")
    .argument('<host>', 'host name or address')
    .argument('[port...]', 'PORT[:tcp|:udp]; PORT is a number or a service name (none for a time-based door)')
    .option('-u', 'make every hit UDP')
    .option('-d <ms>', 'wait MS milliseconds after every hit')
    .option('-4', 'resolve HOST to an IPv4 address')
    .option('-6', 'resolve HOST to an IPv6 address')
    .option('-v', 'print each hit: hitting tcp 10.0.0.1:7000')
    .option('--wait <port>', 'afterwards, wait until HOST accepts TCP connections on PORT; exit 1 if it does not')
    .option('--wait-timeout <ms>', 'how long --wait waits', String(DEFAULT_WAIT_TIMEOUT_MS))
    .option('--secret-file <file>', "a time-based door: knock the current sequence derived from this base32 secret")
    .option('--ports <low-high>', "with --secret-file: the door's Sequence_Ports, LOW-HIGH[:udp]")
    .option('--length <n>', 'with --secret-file: the door\'s Sequence_Length (default 3)')
    .option('--step <seconds>', 'with --secret-file: the door\'s Sequence_Step (default 30)')
    .option(
      '--exclude <ports>',
      'with --secret-file: the ports the door never uses (see knocklog check --show-sequences)',
    )
    .option('--door <name>', 'a time-based door of the config (-c): knock its current sequence')
    .option('--user <name>', 'with --door: the user whose secret to use (a door with Sequence_Secret_Dir)')
    .option('--bind <address>', 'a bound door (Sequence_Bind): the address the server sees this host knock from; ' +
      'auto: the address this host sends from (behind NAT, give the public address instead)')
    .addOption(configOption())
    .action(async (host: string, ports: string[], o: KnockCommandOptions) => {
      process.exitCode = await runKnock(host, ports, o);
    });
}
