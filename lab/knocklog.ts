// knocklog itself in the lab: `knocklog run` in the server namespace, the
// rules `knocklog rules` generates loaded there, and `knocklog knock` from the client.

import { run, waitFor, type Daemon, type DaemonOptions, type RunResult } from './proc.js';
import { KNOCKLOG_CLI, type Lab } from './lab.js';

export interface KnocklogRun {
  daemon: Daemon;
  /** The `msg` of every JSON log record so far, oldest first. */
  messages(): string[];
  /** Waits for a message matching `re` and returns it. */
  waitForMessage(re: RegExp, timeoutMs?: number): Promise<string>;
  /** How many messages so far match `re`. */
  count(re: RegExp): number;
  stop(): Promise<void>;
}

export interface KnocklogStart {
  /** The config file (see writeKnocklogConf). */
  conf: string;
  /** `-s` specs: file:PATH, ulogd:PATH, ulogd-socket:PATH, kmsg, stdin, journal. */
  sources: readonly string[];
  /** Names the process and its state dir; distinct per knocklog of a lab. */
  name?: string;
  dryRun?: boolean;
}

/**
 * Writes a knockd.conf for knocklog: `[options]` with the lab's prefix, a
 * PidFile in the lab (never the default under /run) and `options` (lines of
 * `[options]`), then `doors` (knockd.conf sections).
 */
export function writeKnocklogConf(lab: Lab, name: string, doors: string, options = ''): string {
  const pid = lab.path(`${name}.pid`);
  return lab.writeFile(name, `[options]\n  Prefix = ${lab.prefix}\n  PidFile = ${pid}\n${options}\n${doors}`);
}

/** A log message that says the source now reads what comes next (a file source starts at the file's end). */
function readyMessage(spec: string): RegExp | null {
  const file = /^(?:file|ulogd):(.*)$/.exec(spec);
  if (file) return new RegExp(`^${escapeRe(spec)}: reading ${escapeRe(file[1]!)} from byte \\d+$`);
  if (spec.startsWith('ulogd-socket:')) return new RegExp(`^${escapeRe(spec)}: listening \\(`);
  if (spec === 'kmsg') return /^kmsg: skipped \d+ older records; reading new ones$/;
  return null; // stdin: the pipe keeps what is written before the reader starts
}

const escapeRe = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

function messagesOf(output: string): string[] {
  const out: string[] = [];
  for (const line of output.split('\n')) {
    if (!line.startsWith('{')) continue;
    try {
      const msg = (JSON.parse(line) as { msg?: unknown }).msg;
      if (typeof msg === 'string') out.push(msg);
    } catch {
      // a line cut by the output cap, or stderr text that starts with '{'
    }
  }
  return out;
}

/**
 * Starts `knocklog run` in the server namespace as root (its reader drops to
 * knocklog) and waits until every source reads, so knocks sent from then on count.
 */
export async function startKnocklog(lab: Lab, o: KnocklogStart): Promise<KnocklogRun> {
  const name = o.name ?? 'knocklog';
  const argv = [process.execPath, KNOCKLOG_CLI, 'run', '-c', o.conf, '--state-dir', lab.path(`${name}-state`)];
  for (const s of o.sources) argv.push('-s', s);
  if (o.dryRun) argv.push('--dry-run');
  // The tests wait for first knocks (`Stage 1`): logged one by one at debug level only.
  argv.push('-v');
  const opts: DaemonOptions = { stdin: o.sources.includes('stdin') };
  const daemon = lab.spawn(name, 'server', argv, opts);
  const messages = () => messagesOf(daemon.output);
  const waitForMessage = (re: RegExp, timeoutMs = 10_000) =>
    waitFor(
      `${name} to log ${re}`,
      () => {
        const m = messages().find((msg) => re.test(msg));
        if (m !== undefined) return m;
        if (!daemon.running) throw new Error(`${name} exited before logging ${re}:\n${daemon.output}`);
        return undefined;
      },
      { timeoutMs, describe: () => `its output:\n${daemon.output}` },
    );
  await waitForMessage(/^starting up, listening on .*; reading /);
  for (const re of o.sources.map(readyMessage)) if (re !== null) await waitForMessage(re);
  return {
    daemon,
    messages,
    waitForMessage,
    count: (re) => messages().filter((m) => re.test(m)).length,
    stop: () => daemon.stop(),
  };
}

export interface RulesOptions {
  backend?: 'iptables' | 'nft';
  via?: 'log' | 'nflog';
  /** iptables only: 4 (default) or 6. */
  family?: 4 | 6;
}

/**
 * Runs `knocklog rules -c CONF` (the prefix is the config's, see
 * writeKnocklogConf) and loads the output into the server's firewall, on top
 * of what is there; returns the rules it loaded.
 */
export async function loadKnocklogRules(lab: Lab, conf: string, o: RulesOptions = {}): Promise<string> {
  const backend = o.backend ?? 'iptables';
  const via = o.via ?? 'log';
  const args = ['rules', '-c', conf, '--backend', backend, '--via', via];
  if (via === 'nflog') args.push('--group', String(lab.nflogGroup));
  if (backend === 'iptables') args.push('--family', String(o.family ?? 4));
  const { stdout: rules } = await run([process.execPath, KNOCKLOG_CLI, ...args]);
  if (backend === 'nft') await lab.serverExec('nft', ['-f', '-'], rules);
  else await lab.serverExec(o.family === 6 ? 'ip6tables-restore' : 'iptables-restore', ['--noflush'], rules);
  return rules;
}

/** `knocklog knock ARGS...` in the client namespace (ARGS: options, HOST, ports). */
export function knocklogKnock(lab: Lab, args: readonly string[]): Promise<RunResult> {
  return lab.clientExec(process.execPath, [KNOCKLOG_CLI, 'knock', ...args]);
}
