// `knocklog knock`: the knock client (knockd's `knock`), plus --wait to see
// how long the door takes to open.

import type { Command } from 'commander';
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
}

const DEFAULT_WAIT_TIMEOUT_MS = 10000;
/** How often --wait tries a connection. */
const WAIT_EVERY_MS = 5;

/** Runs the command; returns the exit status (0 even when hits fail, as knock; 1 for bad arguments or a closed --wait port). */
export async function runKnock(host: string, ports: string[], o: KnockCommandOptions): Promise<number> {
  let services: Services | undefined;
  const lazyServices = (): Services => (services ??= loadServices());
  try {
    if (o[4] && o[6]) throw new KnockUsageError('-4 and -6 exclude each other (give one of them)');
    const delayMs = o.d === undefined ? 0 : parseMs(o.d, '-d', 0);
    const timeoutMs = parseMs(o.waitTimeout, '--wait-timeout', 1);
    const waitPort = o.wait === undefined ? null : parseWaitPort(o.wait, lazyServices);
    const hits = ports.map((p) => parseHit(p, o.u === true, lazyServices));
    const family: FamilyChoice = o[4] ? 4 : o[6] ? 6 : 0;
    const address = await resolveHost(host, family);
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
    .argument('<port...>', 'PORT[:tcp|:udp]; PORT is a number or a service name')
    .option('-u', 'make every hit UDP')
    .option('-d <ms>', 'wait MS milliseconds after every hit')
    .option('-4', 'resolve HOST to an IPv4 address')
    .option('-6', 'resolve HOST to an IPv6 address')
    .option('-v', 'print each hit: hitting tcp 10.0.0.1:7000')
    .option('--wait <port>', 'afterwards, wait until HOST accepts TCP connections on PORT; exit 1 if it does not')
    .option('--wait-timeout <ms>', 'how long --wait waits', String(DEFAULT_WAIT_TIMEOUT_MS))
    .action(async (host: string, ports: string[], o: KnockCommandOptions) => {
      process.exitCode = await runKnock(host, ports, o);
    });
}
