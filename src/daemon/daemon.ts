// `knocklog run`: the privileged half. It loads the config, keeps the open-door
// registry (actions/), and starts the reader (sources -> parse -> engine) as
// an unprivileged child, whose decisions it re-validates before acting.

import { inspectorProblem } from './no-inspector.js';
import { fork, type ChildProcess } from 'node:child_process';
import { closeSync, constants, existsSync, mkdirSync, openSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Executor } from '../actions/executor.js';
import { retryDelay, type RetryDelays } from '../backoff.js';
import { markOneTimeUsed } from '../actions/onetime.js';
import { UsedSteps } from '../actions/used-steps.js';
import { userRefusal } from '../totp/index.js';
import { ConfigError, formatSequence, loadConfig, undoProblems } from '../config/index.js';
import type { Config, Decision, OneTimeSequences, OpenDecision, OptionOverrides } from '../types.js';
import { createLogger, escapeControl, type Logger } from './log.js';
import { prepareStateDir, sharedUserWarning, trustProblems, unreadableByReader } from './preflight.js';
import { parseReaderMessage, READER_SILENT_MS, validDecision, type ExecutorMessage } from './protocol.js';
import { readerIdentity, type Identity } from './users.js';

export interface RunOptions {
  config: string;
  overrides: OptionOverrides;
  dryRun: boolean;
  verbose: boolean;
}

/** Shutdown closes the open doors within this time, then exits regardless (what stays open is persisted). */
const SHUTDOWN_MS = 10_000;
const READER = new URL('./reader.js', import.meta.url);
const READER_RETRY: RetryDelays = { minMs: 1000, maxMs: 30_000 };
/** Options the reader cannot take over while it runs. */
const RESTART_OPTIONS = ['sources', 'stateDir', 'user', 'pidFile', 'logFile', 'useSyslog'] as const;

/** The reader gets no NODE_OPTIONS (no --inspect, no --require) and nothing else it does not need. */
function readerEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' };
  // PATH finds journalctl; TZ and the locale decide how year-less local stamps are read.
  for (const k of ['PATH', 'TZ', 'LANG', 'LC_ALL', 'LC_TIME']) {
    if (process.env[k] !== undefined) env[k] = process.env[k];
  }
  return env;
}

export function defaultSources(): string[] {
  return [existsSync('/var/log/kern.log') ? 'file:/var/log/kern.log' : 'journal'];
}

class Daemon {
  private reader: ChildProcess | null = null;
  private stopping = false;
  private restarts = 0;
  private acting: Promise<void> = Promise.resolve();
  private readonly sources: readonly string[];
  private readonly readerDir: string;
  private kmsgFd: number | null = null;
  private readonly usedSteps: UsedSteps;
  /** Each one-time door's unused lines: the actions side's, advanced as lines are used (the config is not changed). */
  private oneTime = new Map<string, OneTimeSequences>();
  /** When the reader last said anything; one silent for READER_SILENT_MS is restarted. */
  private heardAt = 0;
  private readonly watchdog: NodeJS.Timeout;

  constructor(
    private config: Config,
    private readonly opts: RunOptions,
    private readonly log: Logger,
    private readonly executor: Executor,
    private readonly identity: Identity | null,
  ) {
    this.sources = config.options.sources.length > 0 ? config.options.sources : defaultSources();
    this.readerDir = join(config.options.stateDir, 'reader');
    this.usedSteps = new UsedSteps(opts.dryRun ? null : config.options.stateDir);
    this.setOneTime(config);
    this.watchdog = setInterval(() => this.checkReader(), READER_SILENT_MS / 5);
    this.watchdog.unref();
  }

  private setOneTime(config: Config): void {
    this.oneTime = new Map(config.doors.flatMap((d) => (d.kind === 'oneTime' ? [[d.name, d.oneTime] as const] : [])));
  }

  async start(): Promise<void> {
    // The state directory must be ours alone (runDaemon checked the rest); the reader writes only its subdirectory.
    prepareStateDir(this.config.options.stateDir, this.readerDir, this.identity);
    if (this.identity !== null) {
      const unreadable = unreadableByReader(this.identity, READER, this.sources);
      if (unreadable.length > 0) {
        throw new Error(
          `the log reader's user ${this.identity.user} cannot read ${unreadable.join(', ')}: install knocklog ` +
            'where that user can read it (README, Install: npm pack, then npm install -g the tarball), or set User',
        );
      }
      const shared = sharedUserWarning(this.identity);
      if (shared !== null) this.log.warn(shared);
    }
    this.warnUndo(this.config);
    // /dev/kmsg needs CAP_SYSLOG (dmesg_restrict): opened here, inherited by the reader.
    if (this.sources.includes('kmsg')) this.kmsgFd = openSync('/dev/kmsg', constants.O_RDONLY | constants.O_NONBLOCK);
    await this.executor.restore();
    const problem = await this.usedSteps.load();
    if (problem !== null) {
      this.log.warn(`${problem} (sequences of time-based doors used in the last minutes may open once more)`);
    }
    // knockd's text first: scripts watch for it.
    const iface = this.config.options.interface ?? 'any interface';
    this.log.info(`starting up, listening on ${iface}; reading ${this.sources.join(', ')}`);
    this.startReader();
  }

  private startReader(): void {
    // `-s stdin` is read by the reader: it gets our standard input, else none.
    const stdin = this.sources.includes('stdin') ? 'inherit' : 'ignore';
    const stdio: (number | 'ignore' | 'inherit' | 'ipc')[] = [stdin, 'inherit', 'inherit', 'ipc'];
    if (this.kmsgFd !== null) stdio.push(this.kmsgFd);
    const child = fork(READER, [], {
      stdio,
      execArgv: [],
      env: readerEnv(),
      ...(this.identity !== null ? { uid: this.identity.uid, gid: this.identity.gid } : {}),
    });
    this.reader = child;
    this.heardAt = Date.now();
    child.on('message', (m: unknown) => this.message(m));
    child.on('exit', (code, signal) => {
      if (this.reader === child) this.reader = null;
      if (this.stopping) return;
      // A reader that dies is restarted; knocks are timed from their lines, so a short gap loses nothing that matters.
      const delay = retryDelay(READER_RETRY, ++this.restarts);
      this.log.error(`the log reader exited (${signal ?? `status ${code}`}); restarting it in ${delay / 1000} s`);
      setTimeout(() => { if (!this.stopping) this.startReader(); }, delay);
    });
    this.send({
      type: 'setup',
      setup: {
        config: this.config, sources: this.sources, stateDir: this.readerDir,
        open: this.executor.openDoors(), used: this.usedSteps.list(), kmsgFd: this.kmsgFd === null ? null : 4,
        verbose: this.opts.verbose,
      },
    });
  }

  private send(m: ExecutorMessage): void {
    this.reader?.send(m);
  }

  /** A reader stopped (SIGSTOP by its uid) or stuck reads nothing: it is killed, and restarted as after a crash. */
  private checkReader(): void {
    const silent = Date.now() - this.heardAt;
    if (this.reader === null || this.stopping || silent < READER_SILENT_MS) return;
    this.log.error(`the log reader has not answered for ${Math.floor(silent / 1000)} s; restarting it`);
    this.heardAt = Date.now();
    this.reader.kill('SIGKILL');
  }

  /** A message from the reader: untrusted, parsed before anything reads it; nothing in it may stop the executor. */
  private message(raw: unknown): void {
    const m = parseReaderMessage(raw);
    if (m === null) {
      const shown = escapeControl(String(JSON.stringify(raw))).slice(0, 200);
      this.log.error(`ignored an invalid message from the log reader: ${shown}`);
      return;
    }
    // Any message means the reader works: its next crash waits the shortest delay again.
    this.restarts = 0;
    this.heardAt = Date.now();
    if (m.type === 'log') {
      // The reader's text never starts a log line of its own (audit L5).
      this.log[m.level](escapeControl(m.msg).slice(0, 4096));
      return;
    }
    if (m.type !== 'decisions') return;
    for (const raw of m.decisions) {
      const d = validDecision(raw, this.config);
      if (d === null) {
        this.log.error(`ignored an invalid request from the log reader: ${JSON.stringify(raw).slice(0, 200)}`);
      } else {
        // In order: a one-time door's second open must see the first one's line marked.
        this.acting = this.acting
          .then(() => this.act(d))
          .catch((e: Error) => this.log.error(`${d.src}: ${d.door}: ${e.message}`));
      }
    }
  }

  private async act(d: Decision): Promise<void> {
    switch (d.event) {
      case 'stage':
        // A first knock is what a spoofed flood sends: the reader sums them up; one by one only with -v.
        this.log[d.stage === 1 ? 'debug' : 'info'](`${d.src}: ${d.door}: Stage ${d.stage}`);
        return;
      case 'timeout': {
        // A spoofed first knock times out too: at debug level like its Stage 1, or the flood is logged after all.
        const level = d.stage === 1 ? 'debug' : 'info';
        this.log[level](`${d.src}: ${d.door}: sequence timeout (stage ${d.stage})`);
        return;
      }
      case 'open':
        if (!(await this.useOneTime(d)) || !(await this.useStep(d))) return;
        this.log.info(`${who(d)}: OPEN SESAME`);
        // Registered at once, in order; not awaited, so logging does not wait for the command.
        void this.executor.open(d.door, d.src, d.user);
        return;
      case 'extend':
        if (!(await this.useOneTime(d)) || !(await this.useStep(d))) return;
        this.log.info(`${who(d)}: OPEN SESAME (already open: close timer restarted)`);
        void this.executor.extend(d.door, d.src, d.user);
        return;
      case 'disable':
        this.log.warn(
          `no more sequences left in the one time sequences file for door ${d.door} --> disabling the door`,
        );
        return;
      case 'close':
        // The executor closes on its own timer (cmd_timeout after start_command finished).
        return;
    }
  }

  /**
   * A one-time open (or extend) must use the door's current line, and opens
   * only once that line is marked used in the file (found there by content).
   * Line numbers are those of the file as last loaded, as the reader knows them.
   */
  private async useOneTime(d: OpenDecision): Promise<boolean> {
    const ot = this.oneTime.get(d.door);
    if (ot === undefined) return d.oneTimeLine === undefined;
    const current = ot.entries[0];
    if (current === undefined || current.line !== d.oneTimeLine) {
      this.log.error(
        `${d.src}: ${d.door}: refused: one-time sequence line ${d.oneTimeLine} is not the door's current one`,
      );
      return false;
    }
    // Used either way: the reader has moved on, and the sequence was on the wire.
    this.oneTime.set(d.door, { path: ot.path, entries: ot.entries.slice(1) });
    try {
      await markOneTimeUsed(ot.path, current.sequence);
      return true;
    } catch (e) {
      this.log.error(
        `${d.src}: ${d.door}: cannot mark ${formatSequence(current.sequence)} (line ${current.line}) of ${ot.path} ` +
          `used: ${(e as Error).message}; the door stays shut (fix the file, then send SIGHUP)`,
      );
      return false;
    }
  }

  /**
   * A time-based open must name a step within the skew of this process's clock
   * that no sequence used yet (for its user, on a door with Sequence_Secret_Dir,
   * who must still have a secret: a revoked user's knock that the reader
   * completed before the SIGHUP reached it opens nothing); it is recorded (on
   * disk) before the door opens. The reader's word is taken for the ports, as
   * for every door: on a bound door, any canonical address has a sequence.
   */
  private async useStep(d: OpenDecision): Promise<boolean> {
    const door = this.config.doors.find((x) => x.name === d.door);
    if (door?.kind !== 'timed') return d.step === undefined && d.user === undefined;
    const timed = door.timed;
    const refusal = userRefusal(timed, d.user)
      ?? this.usedSteps.refusal(d.door, d.user ?? null, d.step, timed.stepMs, Date.now());
    if (refusal !== null || d.step === undefined) {
      this.log.error(`${who(d)}: refused: ${refusal ?? 'the request names no time step'}`);
      return false;
    }
    try {
      await this.usedSteps.use(d.door, d.user ?? null, d.step);
      return true;
    } catch (e) {
      this.log.error(`${who(d)}: cannot record time step ${d.step} used in ${this.usedSteps.path}: ` +
        `${(e as Error).message}; the door stays shut (check the state directory: free space, permissions)`);
      return false;
    }
  }

  /**
   * SIGHUP: after the decisions already queued (a one-time line being marked must be marked before the file is
   * re-read).
   */
  reload(): void {
    this.acting = this.acting.then(() => this.reloadNow()).catch((e: Error) => this.log.error(`reload: ${e.message}`));
  }

  private reloadNow(): void {
    this.log.info(`re-reading config file: ${this.config.path}`);
    let next: Config;
    try {
      next = loadConfig(this.opts.config, this.opts.overrides);
      const untrusted = trustProblems(next, next.path);
      if (untrusted.length > 0) throw new ConfigError(untrusted);
    } catch (e) {
      // Whatever is wrong with the new config (even an error no check foresaw), the old one stays.
      this.log.error(`the new config has errors; keeping the old one:\n${(e as Error).message}`);
      return;
    }
    const old = this.config.options;
    for (const k of RESTART_OPTIONS) {
      if (JSON.stringify(next.options[k]) !== JSON.stringify(old[k])) {
        this.log.warn(`${k} changed in the config: it takes effect at the next restart`);
      }
    }
    const kept = Object.fromEntries(RESTART_OPTIONS.map((k) => [k, old[k]]));
    this.config = { ...next, options: { ...next.options, ...kept } };
    this.warnUndo(this.config);
    this.setOneTime(this.config);
    this.executor.replaceDoors(this.config.doors);
    this.send({ type: 'reload', config: this.config });
  }

  /** Doors whose stop visibly deletes another rule than their start adds (config/undo.ts). */
  private warnUndo(config: Config): void {
    for (const d of config.doors) for (const p of undoProblems(d)) this.log.warn(p);
  }

  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.log.info('shutting down');
    clearInterval(this.watchdog);
    const reader = this.reader;
    // The reader saves its log positions as it stops: wait for it (bounded), or they could be cut short.
    const readerGone = reader === null || reader.exitCode !== null || reader.signalCode !== null
      ? Promise.resolve()
      : new Promise<void>((r) => { reader.once('exit', () => r()); });
    reader?.kill('SIGTERM');
    await this.executor.closeAll(SHUTDOWN_MS);
    await Promise.race([readerGone, new Promise((r) => setTimeout(r, READER_SILENT_MS).unref())]);
    if (this.kmsgFd !== null) closeSync(this.kmsgFd);
  }
}

/** How the log names an open: knockd's `SRC: DOOR`, after the user's name on a door with Sequence_Secret_Dir. */
function who(d: OpenDecision): string {
  return d.user === undefined ? `${d.src}: ${d.door}` : `${d.user}: ${d.src}: ${d.door}`;
}

export async function runDaemon(o: RunOptions): Promise<number> {
  let config: Config;
  let identity: Identity | null = null;
  const inspecting = inspectorProblem();
  if (inspecting !== null) {
    process.stderr.write(`knocklog run: refusing to start: ${inspecting}\n`);
    return 1;
  }
  try {
    config = loadConfig(o.config, o.overrides);
    // Before anything is opened or written (the LogFile is opened next): nothing another user could have placed.
    const untrusted = trustProblems(config, config.path);
    if (untrusted.length > 0) throw new Error(`knocklog run: refusing to start:\n${untrusted.join('\n')}`);
    if (process.getuid?.() === 0) identity = readerIdentity(config.options.user);
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n`);
    return 1;
  }
  const { log, close } = createLogger({
    verbose: o.verbose,
    logFile: config.options.logFile,
    useSyslog: config.options.useSyslog,
  });
  const executor = new Executor({ doors: config.doors, stateDir: config.options.stateDir, log, dryRun: o.dryRun });
  const daemon = new Daemon(config, o, log, executor, identity);
  const pidFile = config.options.pidFile;
  // Signals count from here, also while starting (SIGHUP's and SIGTERM's default is to die on the spot): a reload
  // or a stop that comes then waits for the start to end. (Handlers run from the event loop: `starting` is set.)
  let starting: Promise<void> | undefined;
  let stopRequested = false;
  // A reload once the stop is asked for would only race with it.
  process.on('SIGHUP', () => void starting?.then(() => { if (!stopRequested) daemon.reload(); }, () => {}));
  let requestStop!: () => void;
  const stopping = new Promise<void>((resolve) => { requestStop = resolve; });
  const stop = () => {
    stopRequested = true;
    requestStop();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  starting = (async () => {
    await daemon.start();
    mkdirSync(dirname(pidFile), { recursive: true });
    writeFileSync(pidFile, `${process.pid}\n`);
  })();
  try {
    await starting;
  } catch (e) {
    log.fatal(`cannot start: ${(e as Error).message}`);
    await daemon.stop();
    await close();
    return 1;
  }
  if (identity !== null) log.info(`the log reader runs as ${identity.user}:${identity.group}`);
  await stopping;
  await daemon.stop();
  try { unlinkSync(pidFile); } catch { /* already gone */ }
  await close();
  return 0;
}
