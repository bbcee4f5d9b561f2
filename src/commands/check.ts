// `knocklog check [-c FILE]`: validate a knockd.conf, print a summary of its
// doors on stdout and exit 0; or print every error on stderr and exit 1.

import type { Command } from 'commander';
import { Option } from 'commander';
import { ConfigError, DEFAULT_CONFIG_PATH, describeTimed, formatSequence, formatTcpFlags, loadConfig } from '../config/index.js';
import { deriveSequence, timeStep } from '../totp/index.js';
import type { Config, Door, TimedSequence } from '../types.js';

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
  if (door.oneTime === null) return 'no';
  const { path, entries } = door.oneTime;
  const first = entries[0];
  if (first === undefined) return `${path}: no unused sequence left, the door is disabled`;
  return `${path}: ${entries.length} unused, current from line ${first.line}`;
}

function sequenceLine(d: Door): string {
  const t = d.timed;
  if (t !== undefined) return describeTimed(t);
  return d.sequence.length ? formatSequence(d.sequence) : '(none left)';
}

function timedLines(t: TimedSequence): string[] {
  return [
    `  secret           ${t.secretFrom}`,
    `  exclude          ${t.exclude.length ? t.exclude.join(',') : '(none)'}`,
  ];
}

/** A time-based door's sequences of the steps around `now` (ms), for --show-sequences. */
export function sequencesAround(t: TimedSequence, now: number): string[] {
  const step = timeStep(now, t.stepMs);
  const names = ['previous', 'current ', 'next    '];
  return [step - 1, step, step + 1].map((s, i) => {
    const from = new Date(s * t.stepMs).toISOString();
    return `  ${names[i]}         ${formatSequence(deriveSequence(t, s))}  (step ${s}, from ${from})`;
  });
}

/**
 * The human summary `check` prints; one block per door, in config order.
 * With `showAt` (ms), time-based doors also show their sequences around that time.
 */
export function formatSummary(config: Config, showAt: number | null = null): string[] {
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
    if (d.timed !== undefined) lines.push(...timedLines(d.timed), ...(showAt === null ? [] : sequencesAround(d.timed, showAt)));
  }
  return lines;
}

/** Runs the check; returns the exit status. */
export function runCheck(
  path: string, out: NodeJS.WritableStream = process.stdout, err: NodeJS.WritableStream = process.stderr, showAt: number | null = null,
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
  out.write(`${formatSummary(config, showAt).join('\n')}\n`);
  // Not errors, but worth saying: nothing could ever open.
  for (const d of config.doors) {
    if (d.oneTime !== null && d.sequence.length === 0) {
      err.write(`knocklog check: warning: no more sequences left in the one time sequences file for door ${d.name} --> the door is disabled\n`);
    }
  }
  if (config.doors.length === 0) err.write(`knocklog check: warning: ${path} defines no door\n`);
  return 0;
}

export function registerCheck(program: Command): void {
  program
    .command('check')
    .description('validate a knockd.conf and print a summary of its doors; exit 1 on any error')
    .addOption(configOption())
    .option('--show-sequences', "time-based doors: print the previous, current and next sequences (they are secrets: don't paste them)")
    .action((o: { config: string; showSequences?: boolean }) => {
      process.exitCode = runCheck(o.config, process.stdout, process.stderr, o.showSequences ? Date.now() : null);
    });
}
