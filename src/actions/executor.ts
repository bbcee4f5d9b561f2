// Turns open/extend decisions into firewall commands. Every command, start or
// stop, goes through one queue of concurrency 1, so two commands never race
// for the firewall. The open doors are kept in memory and in the state file,
// and one timer waits for the earliest close.

import { readFileSync } from 'node:fs';
import PQueue from 'p-queue';
import { retryDelay, type RetryDelays } from '../backoff.js';
import { monotonicMs, SteadyClock } from '../clock.js';
import { deletesWhatStartAdded } from '../iptables.js';
import { isIPv6 } from '../net.js';
import type { Door, OpenDoor } from '../types.js';
import { checkAddress, expandCommand, runCommand } from './command.js';
import type { Log } from '../log.js';
import { stateStore, type OpenDoorRecord } from './state.js';
import type { JsonStore } from '../state/store.js';

export interface ExecutorOptions {
  doors: ReadonlyMap<string, Door> | readonly Door[];
  stateDir: string;
  log: Log;
  /** The wall clock (tests set it); the executor runs its timers on a SteadyClock of it, which never goes back. */
  now?: () => number;
  /** Limit for one command; then its process group is killed. */
  commandTimeoutMs?: number;
  /** Backoff between attempts of a failing stop command. */
  retry?: RetryDelays;
  /** Log the commands, run none, and neither read nor write the state file. */
  dryRun?: boolean;
}

/**
 * queued: the start step waits in the queue (nothing has changed yet);
 * starting: the start command runs; open: waiting for closeAt;
 * stopping: the stop command is queued or runs; retrying: it failed, next attempt at retryAt.
 */
type Phase = 'queued' | 'starting' | 'open' | 'stopping' | 'retrying';

interface Entry {
  door: string;
  src: string;
  /** See OpenDoor.user. */
  user?: string;
  phase: Phase;
  closeAt: number;
  retryAt: number;
  stopCommand: string | null;
  /**
   * The start command this stop undoes: a stop's "no such rule" counts as
   * closed only when it deletes just what this added. null when unknown (a
   * restored door whose stop command the config no longer builds).
   */
  startCommand: string | null;
  /** The start command has not succeeded (yet): its rule may not exist, so a failed stop is not retried. */
  pending: boolean;
  failures: number;
  /** A knock came while the door was closing: open it again once closed. */
  reopen: boolean;
  /** Settles when the start step has finished. */
  started: Promise<void>;
}

/** This boot of the kernel: saved with each open door, so that a record from an earlier boot is known. */
const BOOT_ID = ((): string | null => {
  try {
    return readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
  } catch {
    return null;
  }
})();

// setTimeout's largest delay; a later close re-arms the timer when it fires.
const MAX_TIMER_MS = 2 ** 31 - 1;

function keyOf(door: string, src: string): string {
  return `${door}\n${src}`;
}

function toMap(doors: ExecutorOptions['doors']): ReadonlyMap<string, Door> {
  return Array.isArray(doors) ? new Map(doors.map((d) => [d.name, d])) : (doors as ReadonlyMap<string, Door>);
}

/** The expanded commands for a source: knockd runs a stop command only if a start command ran. */
function commandsFor(door: Door, src: string): { start: string | null; stop: string | null } {
  const v6 = isIPv6(src);
  const start = v6 ? door.startCommand6 : door.startCommand;
  const stop = v6 ? door.stopCommand6 : door.stopCommand;
  if (start === null || start === '') return { start: null, stop: null };
  return { start: expandCommand(start, src), stop: stop === null || stop === '' ? null : expandCommand(stop, src) };
}

export class Executor {
  private doors: ReadonlyMap<string, Door>;
  private readonly log: Log;
  private readonly now: () => number;
  private readonly commandTimeoutMs: number;
  private readonly retry: RetryDelays;
  private readonly dryRun: boolean;
  private readonly queue = new PQueue({ concurrency: 1 });
  private readonly entries = new Map<string, Entry>();
  private accepting = true;
  /** After closeAll's deadline: no timer is armed again, so the process can exit. */
  private stopped = false;
  /**
   * One timer for the earliest closeAt/retryAt. Not unref'd: while a door is open the process must live to close
   * it.
   */
  private timer: NodeJS.Timeout | undefined;
  private readonly store: JsonStore<OpenDoorRecord[]>;
  private emptyWaiters: (() => void)[] = [];

  constructor(opts: ExecutorOptions) {
    this.doors = toMap(opts.doors);
    this.log = opts.log;
    const clock = new SteadyClock(opts.now ?? Date.now);
    this.now = () => clock.read().now;
    this.commandTimeoutMs = opts.commandTimeoutMs ?? 30_000;
    this.retry = opts.retry ?? { minMs: 1000, maxMs: 60_000 };
    this.dryRun = opts.dryRun ?? false;
    this.store = stateStore(opts.stateDir);
  }

  /**
   * Opens `door` for `src`: runs its start command, then closes it cmd_timeout
   * after the command finished. A door already open for `src` is extended
   * instead. Resolves when the start step has finished; never rejects.
   */
  open(door: string, src: string, user?: string): Promise<void> {
    if (!this.accepting) {
      this.log.warn(`${src}: ${door}: shutting down, the door is not opened`);
      return Promise.resolve();
    }
    const existing = this.entries.get(keyOf(door, src));
    if (existing !== undefined) {
      setUser(existing, user);
      return this.knockAgain(existing);
    }
    const d = this.doors.get(door);
    if (d === undefined) {
      this.log.error(`${src}: ${door}: no such door in the configuration, nothing runs`);
      return Promise.resolve();
    }
    let cmds: { start: string | null; stop: string | null };
    try {
      checkAddress(src, d.target);
      cmds = commandsFor(d, src);
    } catch (e) {
      this.log.error(`${src}: ${door}: ${(e as Error).message}`);
      return Promise.resolve();
    }
    const entry: Entry = {
      door, src, phase: 'queued', closeAt: 0, retryAt: 0, stopCommand: cmds.stop, startCommand: cmds.start,
      pending: true, failures: 0,
      reopen: false, started: Promise.resolve(),
    };
    setUser(entry, user);
    this.entries.set(keyOf(door, src), entry);
    entry.started = this.enqueue(() => this.start(entry, d, cmds.start));
    return entry.started;
  }

  /** A re-knock: an open door's close moves to now + cmd_timeout; a door not open is opened. */
  extend(door: string, src: string, user?: string): Promise<void> {
    return this.open(door, src, user);
  }

  /**
   * Reads the state file and schedules the closes it lists: overdue ones at
   * once. Throws when the file cannot be read or another user could have
   * written it (TrustError): the daemon must not start on it.
   */
  async restore(): Promise<void> {
    const path = this.store.path;
    if (this.dryRun) {
      this.log.info(`dry run: the state in ${path} is neither read nor written`);
      return;
    }
    const loaded = await this.store.load(this.now());
    if (loaded.corrupt !== null) {
      this.log.warn(
        `${path} is corrupt (${loaded.corrupt.reason}); kept it as ${loaded.corrupt.keptAs} ` +
          'and started with no open doors (doors it listed are not closed by knocklog: ' +
          'check the firewall for rules left open)',
      );
    }
    let restored = 0;
    for (const r of loaded.value ?? []) {
      if (this.entries.has(keyOf(r.door, r.src))) continue;
      this.checkRestored(r);
      this.entries.set(keyOf(r.door, r.src), {
        door: r.door, src: r.src, phase: 'open', closeAt: this.restoredCloseAt(r), retryAt: 0,
        stopCommand: r.stopCommand, startCommand: this.restoredStart(r),
        // A rule from before a reboot is gone with it (or was restored by a firewall script): the stop runs once.
        pending: (r.pending ?? false) || (r.boot !== undefined && BOOT_ID !== null && r.boot !== BOOT_ID),
        failures: 0, reopen: false, started: Promise.resolve(), ...(r.user === undefined ? {} : { user: r.user }),
      });
      restored++;
    }
    if (restored > 0) this.log.info(`restored ${restored} open door(s) from ${path}`);
    this.reschedule();
  }

  /**
   * When a restored door closes: at its saved time, or earlier if its
   * monotonic deadline (valid in the boot that saved it) says so, since the
   * wall clock may have been stepped back since.
   */
  private restoredCloseAt(r: OpenDoorRecord): number {
    if (r.closeMono === undefined || BOOT_ID === null || r.boot !== BOOT_ID) return r.closeAt;
    return Math.min(r.closeAt, this.now() + r.closeMono - monotonicMs());
  }

  /** The start command a restored record's stop undoes, if the config still builds that stop. */
  private restoredStart(r: OpenDoorRecord): string | null {
    const d = this.doors.get(r.door);
    if (d === undefined) return null;
    const cmds = commandsFor(d, r.src);
    return cmds.stop === r.stopCommand ? cmds.start : null;
  }

  /** A restored stop command that the config would not build now runs all the same (it undoes what ran), loudly. */
  private checkRestored(r: OpenDoorRecord): void {
    const d = this.doors.get(r.door);
    const now = d === undefined ? undefined : commandsFor(d, r.src).stop;
    if (now === r.stopCommand) return;
    const what = d === undefined ? 'the door is no longer in the configuration' : 'its stop command changed';
    this.log.warn(
      `${r.src}: ${r.door}: ${what} since the door opened; ` +
        `its close runs the command saved then: ${r.stopCommand ?? '(none)'}`,
    );
  }

  /**
   * For shutdown: accepts no more opens and runs every pending stop command now.
   * Resolves when all doors are closed or after `withinMs` milliseconds; what is
   * still open then stays in the state file, and the next start closes it.
   */
  async closeAll(withinMs: number): Promise<void> {
    this.accepting = false;
    for (const e of this.entries.values()) {
      e.reopen = false;
      if (e.phase === 'open' || e.phase === 'retrying') this.beginClose(e);
    }
    this.reschedule(); // nothing is waiting for a time any more: disarm the timer
    let deadline: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      this.whenEmpty().then(() => false),
      new Promise<boolean>((resolve) => { deadline = setTimeout(() => resolve(true), withinMs); }),
    ]);
    clearTimeout(deadline);
    if (!timedOut) {
      // The last close's state write may still be under way: the process exits next.
      await this.store.settled();
      return;
    }
    this.stopped = true;
    clearTimeout(this.timer);
    const left = [...this.entries.values()].filter((e) => e.phase !== 'queued');
    if (left.length > 0) {
      this.log.warn(
        `shutting down with ${left.length} door(s) not closed within ${withinMs} ms: ` +
          `${left.map((e) => `${e.src}: ${e.door}`).join(', ')} ` +
          `(they stay in ${this.store.path} and close at the next start)`,
      );
    }
  }

  /** The doors open now (or being opened), earliest close first. */
  openDoors(): OpenDoor[] {
    return [...this.entries.values()]
      .filter((e) => e.phase !== 'queued')
      .map((e) => ({ door: e.door, src: e.src, closeAt: e.closeAt, ...(e.user === undefined ? {} : { user: e.user }) }))
      .sort((a, b) => a.closeAt - b.closeAt);
  }

  /** After a config reload. Open doors of removed doors still close with their stored stop command. */
  replaceDoors(doors: ExecutorOptions['doors']): void {
    this.doors = toMap(doors);
  }

  private knockAgain(e: Entry): Promise<void> {
    // closeAt counts from the start's finish anyway
    if (e.phase === 'queued' || e.phase === 'starting') return e.started;
    const d = this.doors.get(e.door);
    if (e.phase === 'open' && e.pending && d !== undefined) {
      // The last start failed: a new knock tries it again, never waits on a close of a rule that is not there.
      // Both commands from the config as it is now (a SIGHUP may have fixed them): the close must undo this start.
      let cmds: { start: string | null; stop: string | null };
      try {
        checkAddress(e.src, d.target);
        cmds = commandsFor(d, e.src);
      } catch (err) {
        this.log.error(`${e.src}: ${e.door}: ${(err as Error).message}`);
        return Promise.resolve();
      }
      e.stopCommand = cmds.stop;
      e.startCommand = cmds.start;
      e.phase = 'queued';
      e.started = this.enqueue(() => this.start(e, d, cmds.start));
      return e.started;
    }
    if (e.phase === 'stopping' || e.phase === 'retrying') {
      e.reopen = true;
      this.log.info(`${e.src}: ${e.door}: the door is closing; it opens again once closed`);
      return Promise.resolve();
    }
    if (d === undefined) {
      this.log.warn(`${e.src}: ${e.door}: the door is no longer in the configuration, its close is not postponed`);
      return Promise.resolve();
    }
    e.closeAt = this.now() + d.cmdTimeoutMs;
    this.log.info(`${e.src}: ${e.door}: open already, now closes at ${new Date(e.closeAt).toISOString()}`);
    this.reschedule();
    return this.persist().catch((err: unknown) => this.writeFailed(err));
  }

  /** The queued start step of a new open. */
  private async start(e: Entry, d: Door, cmd: string | null): Promise<void> {
    if (!this.accepting) {
      this.log.info(`${e.src}: ${e.door}: shutting down, the start command is not run`);
      if (e.closeAt > 0) {
        // A start that failed before ran once: its stop runs once too, as for any failed start.
        e.phase = 'open';
        this.beginClose(e);
        return;
      }
      this.forget(e);
      return;
    }
    e.phase = 'starting';
    e.pending = true;
    let ok = true;
    if (cmd !== null) {
      // Recorded before the firewall changes, so a crash during the command
      // still leaves the stop command on disk; with the earliest close it can
      // get: after a crash, closing a little early is the safe side. No record,
      // no command: a door that could not be closed after a crash stays shut.
      e.closeAt = this.now() + d.cmdTimeoutMs;
      try {
        // Written, not yet synced: the sync would delay every open by milliseconds, and what it guards
        // against, a power loss, takes the firewall rule with it. The write after the command syncs.
        await this.persist(false);
      } catch (err) {
        this.forget(e);
        this.log.error(
          `${e.src}: ${e.door}: cannot record the open door in ${this.store.path}: ${(err as Error).message}; ` +
            'the door stays shut (check the state directory: free space, permissions)',
        );
        return;
      }
      ok = (await this.run(d.name, cmd, 'warn')) === 'ok';
    }
    if (e.stopCommand === null && ok) {
      // Nothing to close (knockd's open/close door pairs): every knock runs the start command again.
      this.forget(e);
      await this.persist().catch((err: unknown) => this.writeFailed(err));
      return;
    }
    e.pending = !ok;
    if (!ok) {
      this.log.warn(
        `${e.src}: ${e.door}: the start command failed; its stop command runs once, and a new knock runs it again`,
      );
    }
    e.closeAt = this.now() + d.cmdTimeoutMs;
    e.phase = 'open';
    if (!this.accepting) this.beginClose(e);
    this.reschedule();
    await this.persist().catch((err: unknown) => this.writeFailed(err));
  }

  /** Drops an entry that is not (or no longer) open. */
  private forget(e: Entry): void {
    this.entries.delete(keyOf(e.door, e.src));
    this.notifyIfEmpty();
  }

  private writeFailed(err: unknown): void {
    this.log.error(
      `cannot write ${this.store.path}: ${(err as Error).message} ` +
        '(open doors would not be closed after a restart: check the state directory)',
    );
  }

  private beginClose(e: Entry): void {
    if (e.phase === 'open' && e.stopCommand !== null) this.log.info(`${e.src}: ${e.door}: command timeout`);
    e.phase = 'stopping';
    void this.enqueue(() => this.stop(e));
  }

  /** The queued stop step: on success the door is forgotten, on failure retried with backoff. */
  private async stop(e: Entry): Promise<void> {
    const r = e.stopCommand === null ? 'ok' : await this.run(e.door, e.stopCommand, 'error');
    const gone = r === 'no such rule' && e.startCommand !== null && e.stopCommand !== null &&
      deletesWhatStartAdded(e.startCommand, e.stopCommand);
    // After a failed start no rule is the expected outcome: nothing to say.
    if (gone && !e.pending) {
      this.log.warn(
        `${e.src}: ${e.door}: the rule to delete is not there (removed by hand, or by a firewall reload?); ` +
          'the door counts as closed',
      );
    }
    const ok = r === 'ok' || gone;
    if (ok || e.pending) {
      // After a failed start the rule may not exist: one try, as knockd does, never a retry loop.
      if (!ok) this.log.warn(`${e.src}: ${e.door}: the stop command of a failed start failed too; not retried`);
      this.forget(e);
      await this.persist().catch((err: unknown) => this.writeFailed(err));
      if (e.reopen && this.accepting) void this.open(e.door, e.src, e.user);
      return;
    }
    e.failures++;
    const delay = retryDelay(this.retry, e.failures);
    e.retryAt = this.now() + delay;
    e.phase = 'retrying';
    this.log.error(
      `${e.src}: ${e.door}: stop command failed (attempt ${e.failures}), the door stays open; ` +
        `retrying in ${delay} ms (check the command and the firewall)`,
    );
    this.reschedule();
  }

  /**
   * Runs one command with knockd's log lines: 'ok' when it exited 0; 'no such
   * rule' when all it said, with status 1, is iptables' answer to a delete of
   * a rule that is not there.
   */
  private async run(
    door: string, cmd: string, failLevel: 'warn' | 'error',
  ): Promise<'ok' | 'no such rule' | 'failed'> {
    this.log.info(`${door}: running command: ${cmd}${this.dryRun ? ' (dry run: not run)' : ''}`);
    if (this.dryRun) return 'ok';
    const r = await runCommand(cmd, { timeoutMs: this.commandTimeoutMs });
    const output = r.output.trim() === '' ? '' : `; output: ${r.output.trim()}`;
    if (r.pid === null) {
      this.log[failLevel](`${door}: the command could not be started: ${r.output}`);
    } else if (r.timedOut) {
      this.log[failLevel](`${door}: command did not finish within ${this.commandTimeoutMs} ms and was killed${output}`);
    } else if (r.status === null) {
      this.log[failLevel](`${door}: command ended by signal ${r.signal ?? '(unknown)'}${output}`);
    } else if (r.status !== 0) {
      this.log[failLevel](`${door}: command returned non-zero status code (${r.status})`);
      if (output !== '') this.log[failLevel](`${door}: command output${output.slice(1)}`);
    }
    if (r.timedOut) return 'failed';
    if (r.status === 0) return 'ok';
    return r.status === 1 && ruleNotThere(r.output) ? 'no such rule' : 'failed';
  }

  /** Adds a task to the command queue; tasks never throw, but a bug must not become an unhandled rejection. */
  private enqueue(task: () => Promise<void>): Promise<void> {
    return this.queue.add(task).catch((e: unknown) => {
      this.log.error(`internal error in the command queue: ${e instanceof Error ? e.stack ?? e.message : String(e)}`);
    });
  }

  /** Re-arms the one timer for the earliest pending close or retry. */
  private reschedule(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.stopped) return;
    let due = Infinity;
    for (const e of this.entries.values()) due = Math.min(due, dueAt(e));
    if (due === Infinity) return;
    const delay = Math.min(Math.max(0, due - this.now()), MAX_TIMER_MS);
    this.timer = setTimeout(() => this.fire(), delay);
  }

  private fire(): void {
    this.timer = undefined;
    const now = this.now();
    const due = [...this.entries.values()].filter((e) => dueAt(e) <= now).sort((a, b) => dueAt(a) - dueAt(b));
    for (const e of due) this.beginClose(e);
    this.reschedule();
  }

  /** Writes the state file with the entries as they are when the write starts; rejects when it fails. */
  private persist(durable = true): Promise<void> {
    if (this.dryRun) return Promise.resolve();
    return this.store.save(() => ({ open: this.records() }), durable);
  }

  private records(): OpenDoorRecord[] {
    const toMono = monotonicMs() - this.now();
    return [...this.entries.values()]
      // A queued start of a door that failed to start before keeps its record (and its stop).
      .filter((e) => e.phase !== 'queued' || e.closeAt > 0)
      .map((e) => ({
        door: e.door,
        src: e.src,
        closeAt: e.closeAt,
        stopCommand: e.stopCommand,
        ...(e.pending ? { pending: true } : {}),
        ...(BOOT_ID === null ? {} : { boot: BOOT_ID, closeMono: Math.round(e.closeAt + toMono) }),
        ...(e.user === undefined ? {} : { user: e.user }),
      }));
  }

  private whenEmpty(): Promise<void> {
    if (this.entries.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.emptyWaiters.push(resolve));
  }

  private notifyIfEmpty(): void {
    if (this.entries.size > 0) return;
    for (const w of this.emptyWaiters.splice(0)) w();
  }
}

/** The entry is now (also) open for `user`, or for no user in particular. */
function setUser(e: Entry, user: string | undefined): void {
  if (user === undefined) delete e.user;
  else e.user = user;
}

/**
 * Whether a command's whole output is iptables' (or ip6tables') answer to a
 * delete of a rule that is not there, as 1.8.9 prints it with exit status 1:
 * no retry can close what is not open. Anything else in the output (a held
 * xtables lock, say) is a failure that is retried.
 */
function ruleNotThere(output: string): boolean {
  const lines = output.split('\n').filter((l) => l.trim() !== '');
  return lines.length > 0 && lines.every((l) => /Bad rule \(does a matching rule exist in that chain\?\)/.test(l));
}

/** When an entry's next stop attempt is due; Infinity while nothing is waiting on the timer. */
function dueAt(e: Entry): number {
  if (e.phase === 'open') return e.closeAt;
  if (e.phase === 'retrying') return e.retryAt;
  return Infinity;
}
