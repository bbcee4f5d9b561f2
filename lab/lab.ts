// The real lab: a server and a client network namespace joined by a veth
// pair, the server's firewall, and the kernel's log of what it saw. Every lab
// has its own names, subnet and log prefix, so tests may run side by side, and
// destroy() (also run from a process 'exit' handler) removes all it made.
//
// Machine-wide effect, not undone: net.netfilter.nf_log_all_netns=1, without
// which the kernel drops LOG output from every namespace but the first.

import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { canonicalAddress } from '../src/net.js';
import { knockPort, standardRules, type FirewallOptions, type KnockPort } from './firewall.js';
import { KmsgLog, textMatcher } from './logs.js';
import { Daemon, run, succeeds, type DaemonOptions, type RunResult } from './proc.js';

export { e2eAvailable, requireLabOrSkip, type Availability, type Need } from './available.js';
export { standardRules, type FirewallOptions, type KnockPort } from './firewall.js';
export { fileLog, journalRecord, jsonMatcher, KmsgLog, textMatcher, waitForLines, type LabLog } from './logs.js';
export { Daemon, run, waitFor, type DaemonOptions, type RunResult } from './proc.js';
export { runKnockd, type Knockd } from './knockd.js';
export {
  knocklogKnock,
  loadKnocklogRules,
  startKnocklog,
  writeKnocklogConf,
  type KnocklogRun,
  type KnocklogStart,
  type RulesOptions,
} from './knocklog.js';
export { RSYSLOG_LOCK, startRsyslog, type Rsyslog } from './rsyslog.js';
export { spawnUlogd, startUlogd, type Ulogd } from './ulogd.js';
export { synFlood, type FloodOptions } from './flood.js';

/** The built CLI (dist/src/cli.js), for running `knocklog` as users do. */
export const KNOCKLOG_CLI = fileURLToPath(new URL('../src/cli.js', import.meta.url));

export type Family = 4 | 6;
export interface Addresses {
  v4: string;
  /** Canonical (inet_ntop) form. */
  v6: string;
}

const DIR_PREFIX = 'knocklog-lab-';
let counter = 0;
const live = new Set<Lab>();

/**
 * Subnet indexes handed out, one empty file each; the log prefix comes from
 * the index too. Tests find their own lines by prefix and address, and the
 * kernel's log (and journald's copy of it, read from the oldest record) holds
 * lines of earlier labs: an index is given once, and never while the kernel
 * still holds a line with its prefix or one of its addresses, from whatever
 * lab (older code, or a /run emptied without a reboot, as in a container).
 * (A pid-derived index was not enough: two test files whose pids agreed in
 * the low 10 bits shared a subnet, and a journald started later read the
 * first one's knocks as the second's.)
 */
const SUBNET_IDS = process.env['KNOCKLOG_LAB_SUBNETS'] ?? '/run/knocklog-lab-subnets';
const SUBNETS = 0x10000;

/** The indexes that some line in the kernel's ring buffer names, by prefix or by source address. */
function indexesInKernelLog(): Set<number> {
  const log = new KmsgLog(() => true);
  const seen = new Set<number>();
  try {
    for (const line of log.lines()) {
      for (const m of line.matchAll(/KL([0-9a-f]{4}) IN=|(?:SRC|DST)=fd6b:006c:([0-9a-f]{4}):/g)) {
        seen.add(Number.parseInt(m[1] ?? m[2]!, 16));
      }
      for (const m of line.matchAll(/(?:SRC|DST)=10\.(\d+)\.(\d+)\./g)) seen.add(Number(m[1]) * 256 + Number(m[2]));
    }
  } finally {
    log.close();
  }
  return seen;
}

function claimSubnet(): number {
  mkdirSync(SUBNET_IDS, { recursive: true, mode: 0o700 });
  const inLog = indexesInKernelLog();
  let idx = readdirSync(SUBNET_IDS).length % SUBNETS;
  for (let tries = 0; tries < SUBNETS; tries++, idx = (idx + 1) % SUBNETS) {
    if (inLog.has(idx)) continue;
    try {
      // O_EXCL: of labs created at once, one gets each index.
      writeFileSync(`${SUBNET_IDS}/${idx}`, '', { flag: 'wx' });
      return idx;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
  }
  throw new Error(`no lab subnet is free: all ${SUBNETS} are taken in ${SUBNET_IDS} or named in the kernel log ` +
    `(remove ${SUBNET_IDS} while no lab runs, or reboot)`);
}

function addresses(idx: number, host: number): Addresses {
  return {
    v4: `10.${idx >> 8}.${idx & 255}.${host}`,
    v6: canonicalAddress(`fd6b:6c:${idx.toString(16)}::${host}`)!,
  };
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes namespaces and temp dirs that labs of dead processes left behind (killed with SIGKILL). */
function sweepStale(): void {
  const list = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout ?? '';
  for (const m of list.matchAll(/^(kl-(\d+)-\S+)/gm)) {
    if (!pidAlive(Number(m[2]))) spawnSync('ip', ['netns', 'del', m[1]!]);
  }
  for (const d of readdirSync('/tmp')) {
    const m = /^knocklog-lab-(\d+)-/.exec(d);
    if (m && !pidAlive(Number(m[1]))) rmSync(`/tmp/${d}`, { recursive: true, force: true });
  }
}

let handlersInstalled = false;
function installExitHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  const cleanup = () => {
    for (const lab of live) lab.destroyNow();
  };
  process.once('exit', cleanup);
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      cleanup();
      process.exit(sig === 'SIGINT' ? 130 : 143);
    });
  }
}

export class Lab {
  readonly n = counter++;
  readonly name = `kl-${process.pid}-${this.n}`;
  readonly serverNs = `${this.name}-srv`;
  readonly clientNs = `${this.name}-cli`;
  readonly serverIf = `kl${process.pid}s${this.n}`;
  readonly clientIf = `kl${process.pid}c${this.n}`;
  /** This lab's subnet: 10.A.B.0/24 and fd6b:6c:AB::/64, never another lab's in this boot. */
  readonly subnet = claimSubnet();
  readonly server = addresses(this.subnet, 1);
  readonly client = addresses(this.subnet, 2);
  /**
   * The log prefix of this lab's rules (no trailing blank): no other lab's of this boot, nor contains one (all
   * have one length). Not from the pid: with a pid_max of 32768, pids come round again within a few runs.
   */
  readonly prefix = `KL${this.subnet.toString(16).padStart(4, '0')}`;
  /** NFLOG groups belong to a namespace; distinct anyway, for readable rules. */
  readonly nflogGroup = 100 + this.n;
  /** The lab's temp dir: configs, logs, sockets. */
  readonly dir = mkdtempSync(`/tmp/${DIR_PREFIX}${process.pid}-${this.n}-`);
  /**
   * The kernel's records of this lab, from /dev/kmsg. A new reader starts at the oldest record the kernel still
   * holds: the prefix, never an earlier lab's in this boot, keeps it to this lab's.
   */
  readonly kmsg = new KmsgLog(textMatcher(this.prefix));
  private readonly daemons: Daemon[] = [];
  private destroyed = false;

  constructor() {
    installExitHandlers();
    live.add(this);
    // knocklog run's unprivileged reader (knocklog) reads the lab's logs in here.
    chmodSync(this.dir, 0o755);
  }

  /** Creates the namespaces, the veth pair and the addresses; see createLab. */
  async setUp(): Promise<void> {
    writeFileSync('/proc/sys/net/netfilter/nf_log_all_netns', '1\n');
    await run(['ip', 'netns', 'add', this.serverNs]);
    await run(['ip', 'netns', 'add', this.clientNs]);
    // Created inside the namespaces: no name is ever taken in the host's namespace.
    await run([
      'ip', 'link', 'add', this.serverIf, 'netns', this.serverNs,
      'type', 'veth', 'peer', 'name', this.clientIf, 'netns', this.clientNs,
    ]);
    for (const [ns, dev, a] of [
      [this.serverNs, this.serverIf, this.server],
      [this.clientNs, this.clientIf, this.client],
    ] as const) {
      // nodad: the IPv6 address is usable at once instead of after duplicate detection.
      const batch = [
        `addr add ${a.v4}/24 dev ${dev}`,
        `addr add ${a.v6}/64 dev ${dev} nodad`,
        'link set lo up',
        `link set ${dev} up`,
      ];
      await run(['ip', '-n', ns, '-batch', '-'], `${batch.join('\n')}\n`);
    }
  }

  /**
   * Adds another address (host number `host`, 3 and up) to the client's end
   * of the veth pair: a second client in the same subnet, for showing that a
   * door opens for the knocking address only.
   */
  async addClientAddress(host: number): Promise<Addresses> {
    if (host < 3 || host > 254) {
      throw new Error(`client host number ${host}: use 3 to 254 (1 is the server, 2 the client)`);
    }
    const a = addresses(this.subnet, host);
    // IPv4: a second address in the subnet is secondary, never the default source. IPv6 would
    // prefer the newer one; deprecated (preferred_lft 0), it is used only when a socket binds it.
    const batch =
      `addr add ${a.v4}/24 dev ${this.clientIf}\n` +
      `addr add ${a.v6}/64 dev ${this.clientIf} nodad preferred_lft 0\n`;
    await run(['ip', '-n', this.clientNs, '-batch', '-'], batch);
    return a;
  }

  addr(family: Family, who: 'server' | 'client' = 'server'): string {
    const a = who === 'server' ? this.server : this.client;
    return family === 4 ? a.v4 : a.v6;
  }

  /** A path in the lab's temp dir. */
  path(name: string): string {
    return `${this.dir}/${name}`;
  }

  writeFile(name: string, text: string): string {
    const p = this.path(name);
    writeFileSync(p, text);
    return p;
  }

  serverExec(cmd: string, args: readonly string[] = [], input?: string): Promise<RunResult> {
    return run(['ip', 'netns', 'exec', this.serverNs, cmd, ...args], input);
  }

  clientExec(cmd: string, args: readonly string[] = [], input?: string): Promise<RunResult> {
    return run(['ip', 'netns', 'exec', this.clientNs, cmd, ...args], input);
  }

  /** Starts a long-running process that destroy() stops; `where` is the namespace, 'host' for none. */
  spawn(name: string, where: 'server' | 'client' | 'host', argv: readonly string[], opts: DaemonOptions = {}): Daemon {
    if (this.destroyed) throw new Error(`lab ${this.name} is destroyed; cannot start ${name}`);
    const ns = where === 'server' ? this.serverNs : where === 'client' ? this.clientNs : null;
    const d = new Daemon(name, ns === null ? argv : ['ip', 'netns', 'exec', ns, ...argv], opts);
    this.daemons.push(d);
    return d;
  }

  /** Replaces the server's rule sets (iptables-restore, ip6tables-restore). */
  async installRules(v4: string, v6: string = v4): Promise<void> {
    await this.serverExec('iptables-restore', [], v4);
    await this.serverExec('ip6tables-restore', [], v6);
  }

  /** The standard lab firewall (see standardRules) for both families. */
  async installStandardFirewall(o: FirewallOptions = {}): Promise<void> {
    await this.installRules(standardRules(this.prefix, this.nflogGroup, o));
  }

  /** A TCP server in the server namespace on every address (IPv4 and IPv6) that greets and closes. */
  async listen(port: number): Promise<Daemon> {
    // A client that hangs up at once resets the connection: ignore that rather than crash.
    const script =
      "require('net').createServer((c) => c.on('error', () => {}).end('knocklog-lab\\n'))" +
      `.listen({ port: ${port}, host: '::', ipv6Only: false }, () => console.log('listening'))`;
    const d = this.spawn(`listener :${port}`, 'server', [process.execPath, '-e', script]);
    await d.waitForOutput(/listening/);
    return d;
  }

  /**
   * Whether a TCP connection from the client to the server's port is accepted
   * within `timeoutMs`. A dropped SYN takes the whole timeout; a refused one returns at once.
   * `from`: the client's source address (one of addClientAddress), else its own.
   */
  canConnect(port: number, family: Family = 4, timeoutMs = 1000, from?: string): Promise<boolean> {
    const script = `const [host, port, ms, localAddress] = process.argv.slice(1);
const s = require('net').connect({ host, port: Number(port), ...(localAddress ? { localAddress } : {}) });
s.setTimeout(Number(ms), () => process.exit(2));
s.on('connect', () => process.exit(0));
s.on('error', () => process.exit(1));`;
    const argv = [
      process.execPath,
      '-e',
      script,
      this.addr(family),
      String(port),
      String(timeoutMs),
      ...(from === undefined ? [] : [from]),
    ];
    return succeeds(['ip', 'netns', 'exec', this.clientNs, ...argv]);
  }

  /** knockd's `knock` client, from the client namespace to the server. */
  async knock(
    ports: ReadonlyArray<KnockPort | string | number>,
    { udp = false, family = 4 as Family, delayMs }: { udp?: boolean; family?: Family; delayMs?: number } = {},
  ): Promise<void> {
    const args = [udp ? ['-u'] : [], [`-${family}`], delayMs === undefined ? [] : ['-d', String(delayMs)]].flat();
    const spec = ports.map(knockPort).map((k) => `${k.port}:${k.proto}`);
    await this.clientExec('knock', [...args, this.addr(family), ...spec]);
  }

  /** Stops every process it started, removes the namespaces and the temp dir. Idempotent. */
  async destroy(): Promise<void> {
    if (this.destroyed) return;
    this.destroyed = true;
    live.delete(this);
    await Promise.all(this.daemons.map((d) => d.stop()));
    this.removeAll();
  }

  /** destroy() without waiting for processes to finish cleanly, for exit handlers. */
  destroyNow(): void {
    this.destroyed = true;
    live.delete(this);
    for (const d of this.daemons) d.killNow();
    this.removeAll();
  }

  private removeAll(): void {
    this.kmsg.close();
    // Namespaces must go after their processes: a process keeps its namespace alive.
    for (const ns of [this.serverNs, this.clientNs]) spawnSync('ip', ['netns', 'del', ns]);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** A ready lab: namespaces, veth pair, addresses and links up, an empty (accept-all) firewall. */
export async function createLab(): Promise<Lab> {
  sweepStale();
  const lab = new Lab();
  try {
    await lab.setUp();
  } catch (e) {
    await lab.destroy();
    throw e;
  }
  return lab;
}

/** Runs the built `knocklog` CLI with `args`. */
export function runKnocklog(args: readonly string[], input?: string): Promise<RunResult> {
  return run([process.execPath, KNOCKLOG_CLI, ...args], input);
}
