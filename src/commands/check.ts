// `knocklog check [-c FILE]`: validate a knockd.conf, print a summary of its
// doors on stdout and exit 0; or print every error on stderr and exit 1.

import type { Command } from 'commander';
import { Option } from 'commander';
import {
  ConfigError,
  DEFAULT_CONFIG_PATH,
  describeTimed,
  formatSequence,
  formatTcpFlags,
  loadConfig,
  undoProblems,
} from '../config/index.js';
import { canonicalAddress } from '../net.js';
import { deriveBoundSequence, deriveSequence, firstPort, timeStep } from '../totp/index.js';
import type { Config, Door, TimedSequence } from '../types.js';

/** Whose sequences --show-sequences prints: a user's (Sequence_Secret_Dir), bound to an address (Sequence_Bind). */
export interface ShowFor {
  user?: string;
  /** Canonical. */
  bind?: string;
}

/** `-c, --config FILE`, shared by the commands that read knockd.conf. */
export function configOption(): Option {
  return new Option('-c, --config <file>', 'the knockd.conf to read').default(DEFAULT_CONFIG_PATH);
}

function seconds(ms: number): string {
  return `${ms / 1000} s`;
}

function command(c: string | null): string {
  return c === null || c === '' ? '(none)' : c;
}

function oneTimeStatus(door: Door): string {
  if (door.kind !== 'oneTime') return 'no';
  const { path, entries } = door.oneTime;
  const first = entries[0];
  if (first === undefined) return `${path}: no unused sequence left, the door is disabled`;
  return `${path}: ${entries.length} unused, current from line ${first.line}`;
}

function sequenceLine(d: Door): string {
  if (d.kind === 'timed') return describeTimed(d.timed);
  const sequence = d.kind === 'fixed' ? d.sequence : (d.oneTime.entries[0]?.sequence ?? []);
  return sequence.length ? formatSequence(sequence) : '(none left)';
}

function timedLines(t: TimedSequence): string[] {
  const names = t.users?.map((u) => u.name).join(', ');
  const users = names === undefined ? [] : [`  users            ${names || '(none)'}`];
  return [
    `  ${t.users === undefined ? 'secret    ' : 'secret_dir'}       ${t.secretFrom}`,
    ...users,
    `  exclude          ${t.exclude.length ? t.exclude.join(',') : '(none)'}`,
  ];
}

/** One step's sequence as `check` prints it; a bound door's without an address: its first port, and what follows. */
function stepSequence(t: TimedSequence, step: number, secretHex: string, bind: string | undefined): string {
  if (t.bind === undefined) return formatSequence(deriveSequence(t, step, secretHex));
  if (bind !== undefined) return formatSequence(deriveBoundSequence(t, step, secretHex, bind));
  const first = formatSequence([{ proto: t.proto, port: firstPort(t, step, secretHex) }]);
  return `${first},+${t.length - 1}`;
}

/**
 * A time-based door's sequences of the steps around `now` (ms), for
 * --show-sequences: of the user `show.user` on a door with users, bound to
 * `show.bind` on a bound door.
 */
export function sequencesAround(t: TimedSequence, now: number, show: ShowFor = {}): string[] {
  let secretHex = t.secretHex;
  if (t.users !== undefined) {
    const user = t.users.find((u) => u.name === show.user);
    if (show.user === undefined) return ["  (a secret per user: add --user NAME to see one user's sequences)"];
    if (user === undefined) return [`  (no user ${show.user} here)`];
    secretHex = user.secretHex;
  }
  const step = timeStep(now, t.stepMs);
  const names = ['previous', 'current ', 'next    '];
  const lines = [step - 1, step, step + 1].map((s, i) => {
    const from = new Date(s * t.stepMs).toISOString();
    return `  ${names[i]}         ${stepSequence(t, s, secretHex, show.bind)}  (step ${s}, from ${from})`;
  });
  if (t.bind !== undefined && show.bind === undefined) {
    lines.push(`  (+${t.length - 1}: the other ports depend on the knocking address: add --bind ADDR to see them)`);
  }
  return lines;
}

/**
 * The human summary `check` prints; one block per door, in config order.
 * With `showAt` (ms), time-based doors also show their sequences around that time.
 */
export function formatSummary(config: Config, showAt: number | null = null, show: ShowFor = {}): string[] {
  const o = config.options;
  const lines = [
    `${config.path}: OK, ${config.doors.length} door${config.doors.length === 1 ? '' : 's'}`,
    '[options]',
    `  usesyslog        ${o.useSyslog ? 'yes' : 'no'}`,
    `  logfile          ${o.logFile ?? '(none)'}`,
    `  pidfile          ${o.pidFile}`,
    `  interface        ${o.interface ?? '(any)'}`,
    `  sources          ${o.sources.length ? o.sources.join(',') : '(default)'}`,
    `  prefix           ${JSON.stringify(o.prefix)}`,
    `  statedir         ${o.stateDir}`,
    `  maxsources       ${o.maxSources}`,
    `  user             ${o.user}`,
  ];
  for (const d of config.doors) {
    lines.push(
      `[${d.name}] (${d.where})`,
      `  sequence         ${sequenceLine(d)}`,
      `  seq_timeout      ${seconds(d.seqTimeoutMs)}`,
      `  tcpflags         ${d.tcpFlags.length ? formatTcpFlags(d.tcpFlags) : '(any)'}`,
      `  target           ${d.target ?? "(the host's addresses)"}`,
      `  start_command    ${command(d.startCommand)}`,
      `  start_command_6  ${command(d.startCommand6)}`,
      `  cmd_timeout      ${seconds(d.cmdTimeoutMs)}`,
      `  stop_command     ${command(d.stopCommand)}`,
      `  stop_command_6   ${command(d.stopCommand6)}`,
      `  one_time         ${oneTimeStatus(d)}`,
    );
    if (d.kind !== 'timed') continue;
    lines.push(...timedLines(d.timed), ...(showAt === null ? [] : sequencesAround(d.timed, showAt, show)));
  }
  return lines;
}

/** Runs the check; returns the exit status. */
export function runCheck(
  path: string,
  out: NodeJS.WritableStream = process.stdout,
  err: NodeJS.WritableStream = process.stderr,
  showAt: number | null = null,
  show: ShowFor = {},
): number {
  let config: Config;
  try {
    config = loadConfig(path);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    err.write(e.errors.map((m) => `${m}\n`).join(''));
    err.write(`knocklog check: ${e.errors.length} error${e.errors.length === 1 ? '' : 's'} in ${path}\n`);
    return 1;
  }
  const hasUser = (d: Door) => d.kind === 'timed' && d.timed.users?.some((u) => u.name === show.user) === true;
  if (show.user !== undefined && !config.doors.some(hasUser)) {
    err.write(`knocklog check: no door of ${path} has a user ${show.user} ` +
      '(users are the file names in Sequence_Secret_Dir)\n');
    return 1;
  }
  out.write(`${formatSummary(config, showAt, show).join('\n')}\n`);
  // Not errors, but worth saying: nothing could ever open, or a close that would leave its rule.
  for (const d of config.doors) {
    if (d.kind === 'oneTime' && d.oneTime.entries.length === 0) {
      err.write(
        'knocklog check: warning: no more sequences left in the one time sequences file ' +
          `for door ${d.name} --> the door is disabled\n`,
      );
    }
    for (const p of undoProblems(d)) err.write(`knocklog check: warning: ${p}\n`);
  }
  if (config.doors.length === 0) err.write(`knocklog check: warning: ${path} defines no door\n`);
  return 0;
}

export function registerCheck(program: Command): void {
  program
    .command('check')
    .description('validate a knockd.conf and print a summary of its doors; exit 1 on any error')
    .addOption(configOption())
    .option(
      '--show-sequences',
      "time-based doors: print the previous, current and next sequences (they are secrets: don't paste them)",
    )
    .option('--user <name>', 'with --show-sequences: the sequences of this user of doors with Sequence_Secret_Dir')
    .option('--bind <address>', 'with --show-sequences: bound doors\' (Sequence_Bind) sequences knocked from ADDRESS')
    .action((o: { config: string; showSequences?: boolean; user?: string; bind?: string }) => {
      const bind = o.bind === undefined ? undefined : canonicalAddress(o.bind);
      if (bind === null) {
        process.stderr.write(`knocklog check: --bind ${o.bind} is not an IPv4 or IPv6 address\n`);
        process.exitCode = 1;
        return;
      }
      const show: ShowFor = {};
      if (o.user !== undefined) show.user = o.user;
      if (bind !== undefined) show.bind = bind;
      process.exitCode = runCheck(o.config, process.stdout, process.stderr, o.showSequences ? Date.now() : null, show);
    });
}
