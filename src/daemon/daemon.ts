// `knocklog run`: the privileged half. It loads the config, keeps the open-door
// registry (actions/), and starts the reader (sources -> parse -> engine) as
// an unprivileged child, whose decisions it re-validates before acting.

import { fork, type ChildProcess } from 'node:child_process';
import { chownSync, closeSync, constants, existsSync, mkdirSync, openSync, unlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Executor } from '../actions/executor.js';
import { retryDelay, type RetryDelays } from '../backoff.js';
import { markOneTimeUsed } from '../actions/onetime.js';
import { UsedSteps } from '../actions/used-steps.js';
import { ConfigError, loadConfig, readOneTimeSequences } from '../config/index.js';
import type { Config, Decision, Options } from '../types.js';
import { FirstKnocks } from './first-knocks.js';
import { createLogger, type Logger } from './log.js';
import { validDecision, type ExecutorMessage, type ReaderMessage } from './protocol.js';
import { readerIdentity, type Identity } from './users.js';

export interface RunOptions {
  config: string;
  overrides: Partial<Options>;
  dryRun: boolean;
  verbose: boolean;
}

/** Shutdown closes the open doors within this time, then exits regardless (what stays open is persisted). */
const SHUTDOWN_MS = 10_000;
const READER = new URL('./reader.js', import.meta.url);
const READER_RETRY: RetryDelays = { minMs: 1000, maxMs: 30_000 };

export function defaultSources(): string[] {
  return [existsSync('/var/log/kern.log') ? 'file:/var/log/kern.log' : 'journal'];
}

class Daemon {
  private reader: ChildProcess | null = null;
  private stopping = false;
  private restarts = 0;
  private acting: Promise<void> = Promise.resolve();
  private readonly sources: string[];
  private readonly readerDir: string;
  private kmsgFd: number | null = null;
  private readonly usedSteps: UsedSteps;
  private readonly firstKnocks = new FirstKnocks((msg) => this.log.info(msg));

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
  }

  async start(): Promise<void> {
    const dir = this.config.options.stateDir;
    // The executor's state is root's; the reader may write only its own subdirectory.
    mkdirSync(dir, { recursive: true, mode: 0o711 });
    mkdirSync(this.readerDir, { recursive: true, mode: 0o700 });
    if (this.identity !== null) chownSync(this.readerDir, this.identity.uid, this.identity.gid);
    // /dev/kmsg needs CAP_SYSLOG (dmesg_restrict): opened here, inherited by the reader.
    if (this.sources.includes('kmsg')) this.kmsgFd = openSync('/dev/kmsg', constants.O_RDONLY | constants.O_NONBLOCK);
    await this.executor.restore();
    const problem = await this.usedSteps.load();
    if (problem !== null) this.log.warn(`${problem} (sequences of time-based doors used in the last minutes may open once more)`);
    // knockd's text first: scripts watch for it.
    this.log.info(`starting up, listening on ${this.config.options.interface ?? 'any interface'}; reading ${this.sources.join(', ')}`);
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
      ...(this.identity !== null ? { uid: this.identity.uid, gid: this.identity.gid } : {}),
    });
    this.reader = child;
    child.on('message', (m: ReaderMessage) => this.message(m));
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
      },
    });
  }

  private send(m: ExecutorMessage): void {
    this.reader?.send(m);
  }

  private message(m: ReaderMessage): void {
    // Any message means the reader works: its next crash waits the shortest delay again.
    this.restarts = 0;
    if (m.type === 'log') {
      const level = m.level === 'error' || m.level === 'warn' ? m.level : 'info';
      this.log[level](String(m.msg));
      return;
    }
    if (m.type !== 'decisions' || !Array.isArray(m.decisions)) return;
    for (const raw of m.decisions as unknown[]) {
      const d = validDecision(raw, this.config);
      if (d === null) this.log.error(`ignored an invalid request from the log reader: ${JSON.stringify(raw).slice(0, 200)}`);
      // In order: a one-time door's second open must see the first one's line marked.
      else this.acting = this.acting.then(() => this.act(d)).catch((e: Error) => this.log.error(`${d.src}: ${d.door}: ${e.message}`));
    }
  }

  private async act(d: Decision): Promise<void> {
    switch (d.event) {
      case 'stage':
        // A first knock is what a spoofed flood sends: one summary per period, not a line each.
        if (d.stage === 1) {
          this.log.debug(`${d.src}: ${d.door}: Stage 1`);
          this.firstKnocks.add(d.src);
        } else {
          this.log.info(`${d.src}: ${d.door}: Stage ${d.stage}`);
        }
        return;
      case 'timeout':
        this.log.info(`${d.src}: ${d.door}: sequence timeout (stage ${d.stage})`);
        return;
      case 'open':
        if (!(await this.useOneTime(d)) || !(await this.useStep(d))) return;
        this.log.info(`${d.src}: ${d.door}: OPEN SESAME`);
        // Registered at once, in order; not awaited, so logging does not wait for the command.
        void this.executor.open(d.door, d.src);
        return;
      case 'extend':
        if (!(await this.useStep(d))) return;
        this.log.info(`${d.src}: ${d.door}: OPEN SESAME (already open: close timer restarted)`);
        void this.executor.extend(d.door, d.src);
        return;
      case 'disable':
        this.log.warn(`no more sequences left in the one time sequences file for door ${d.door} --> disabling the door`);
        return;
      case 'close':
        // The executor closes on its own timer (cmd_timeout after start_command finished).
        return;
    }
  }

  /** A one-time open must use the door's current line; it is marked before the door opens. */
  private async useOneTime(d: Decision): Promise<boolean> {
    const door = this.config.doors.find((x) => x.name === d.door);
    if (door?.oneTime == null) return d.oneTimeLine === undefined;
    const current = door.oneTime.entries[0];
    if (current === undefined || current.line !== d.oneTimeLine) {
      this.log.error(`${d.src}: ${d.door}: refused: one-time sequence line ${d.oneTimeLine} is not the door's current one`);
      return false;
    }
    try {
      await markOneTimeUsed(door.oneTime.path, current.line);
      door.oneTime = readOneTimeSequences(door.oneTime.path);
      door.sequence = door.oneTime.entries[0]?.sequence ?? [];
    } catch (e) {
      this.log.error(`${d.door}: cannot mark line ${current.line} of ${door.oneTime.path} used: ${(e as Error).message}`);
      door.oneTime = { path: door.oneTime.path, entries: door.oneTime.entries.slice(1) };
    }
    return true;
  }

  /**
   * A time-based open must name a step within the skew of this process's clock
   * that no sequence used yet; it is recorded (on disk) before the door opens.
   */
  private async useStep(d: Decision): Promise<boolean> {
    const timed = this.config.doors.find((x) => x.name === d.door)?.timed;
    if (timed === undefined) return d.step === undefined;
    const now = Date.now();
    const refusal = this.usedSteps.refusal(d.door, d.step, timed.stepMs, now);
    if (refusal !== null) {
      this.log.error(`${d.src}: ${d.door}: refused: ${refusal}`);
      return false;
    }
    try {
      await this.usedSteps.use(d.door, d.step!, timed.stepMs, now);
    } catch (e) {
      this.log.error(`${d.door}: cannot record time step ${d.step} used in ${this.usedSteps.path}: ${(e as Error).message} ` +
        '(after a restart its sequence could open once more: check the state directory)');
    }
    return true;
  }

  reload(): void {
    this.log.info(`re-reading config file: ${this.config.path}`);
    try {
      const next = loadConfig(this.opts.config, this.opts.overrides);
      this.config = { ...next, options: { ...next.options, sources: this.config.options.sources, stateDir: this.config.options.stateDir } };
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      this.log.error(`the new config has errors; keeping the old one:\n${e.message}`);
      return;
    }
    this.executor.replaceDoors(this.config.doors);
    this.send({ type: 'reload', config: this.config });
  }

  async stop(): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    this.log.info('shutting down');
    this.reader?.kill('SIGTERM');
    await this.executor.closeAll(SHUTDOWN_MS);
    if (this.kmsgFd !== null) closeSync(this.kmsgFd);
  }
}

export async function runDaemon(o: RunOptions): Promise<number> {
  let config: Config;
  let identity: Identity | null = null;
  try {
    config = loadConfig(o.config, o.overrides);
    if (process.getuid?.() === 0) identity = readerIdentity(config.options.user);
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n`);
    return 1;
  }
  const { log, close } = createLogger({ verbose: o.verbose, logFile: config.options.logFile, useSyslog: config.options.useSyslog });
  const executor = new Executor({ doors: config.doors, stateDir: config.options.stateDir, log, dryRun: o.dryRun });
  const daemon = new Daemon(config, o, log, executor, identity);
  const pidFile = config.options.pidFile;
  try {
    await daemon.start();
    mkdirSync(dirname(pidFile), { recursive: true });
    writeFileSync(pidFile, `${process.pid}\n`);
  } catch (e) {
    log.fatal(`cannot start: ${(e as Error).message}`);
    await daemon.stop();
    await close();
    return 1;
  }
  if (identity !== null) log.info(`the log reader runs as ${identity.user}:${identity.group}`);
  return await new Promise<number>((resolve) => {
    process.on('SIGHUP', () => daemon.reload());
    const shutdown = () => {
      void daemon.stop().then(async () => {
        try { unlinkSync(pidFile); } catch { /* already gone */ }
        await close();
        resolve(0);
      });
    };
    process.on('SIGTERM', shutdown);
    process.on('SIGINT', shutdown);
  });
}
