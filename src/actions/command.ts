// Firewall commands: `%IP%` expansion (safe only for a validated address
// literal, since the result goes to a shell) and running one command with a
// hard time limit.

import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { canonicalAddress, isLoopback, sourceRefusal } from '../net.js';

/**
 * Throws unless `address` is a canonical IPv4/IPv6 literal that can be a
 * packet's source, the only text that may reach the shell as %IP%. Loopback
 * passes only for a door whose `target` is loopback; without a target (a
 * caller that checked the door already) it passes.
 */
export function checkAddress(address: string, target?: string | null): void {
  if (canonicalAddress(address) !== address) {
    throw new Error(
      `refusing to put ${JSON.stringify(address)} into a command: it is not a canonical IPv4 or IPv6 address ` +
        '(only the parser\'s canonical source addresses may reach the shell)',
    );
  }
  const refusal = sourceRefusal(address, target === undefined || (target !== null && isLoopback(target)));
  if (refusal !== null) {
    throw new Error(`refusing to put ${address} into a command: it is ${refusal}, which no knock comes from`);
  }
}

/** Replaces every `%IP%` with `address`, which must be a canonical IPv4/IPv6 literal. */
export function expandCommand(template: string, address: string): string {
  checkAddress(address);
  return template.split('%IP%').join(address);
}

export interface CommandResult {
  /** Exit status, or null when the shell ended by a signal or never started. */
  status: number | null;
  signal: string | null;
  /** The time limit passed and the command's process group was killed. */
  timedOut: boolean;
  /** stdout and stderr as they arrived, at most OUTPUT_LIMIT bytes; or why the shell could not start. */
  output: string;
  /** The shell's pid, which is also its process group id; null when it never started. */
  pid: number | null;
}

/** How long one command may run, and how it is stopped. */
export interface CommandLimits {
  timeoutMs: number;
  /** Between SIGTERM and SIGKILL to the process group. */
  killGraceMs?: number;
}

const OUTPUT_LIMIT = 64 * 1024;
const KILL_GRACE_MS = 2000;
// After the shell exits, a background child may keep the output pipe open; its
// buffered output drains in far less than this, and we do not wait for the child.
const DRAIN_MS = 100;

/** Signals a whole process group; a group that is already gone is not an error. */
function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // ESRCH: every member has exited.
  }
}

/**
 * Whether a process group still has a member that is not a zombie. kill(-pgid, 0)
 * cannot tell: where PID 1 does not reap orphans (some containers), the dead
 * children of a killed shell stay in the group as zombies for good.
 */
function groupAlive(pgid: number): boolean {
  let names: string[];
  try {
    names = readdirSync('/proc');
  } catch {
    return true; // cannot look: wait for SIGKILL
  }
  for (const name of names) {
    if (name.charCodeAt(0) > 57) continue; // not a pid
    let stat: string;
    try {
      stat = readFileSync(`/proc/${name}/stat`, 'latin1');
    } catch {
      continue; // exited meanwhile
    }
    // `pid (comm) state ppid pgrp ...`; comm may hold spaces and parentheses.
    const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ', 3);
    if (Number(pgrp) === pgid && state !== 'Z') return true;
  }
  return false;
}

/**
 * Runs `/bin/sh -c cmd` in a process group of its own, so that at the time limit
 * the shell and everything it started (an iptables waiting for the xtables lock)
 * can be killed together: SIGTERM, then SIGKILL after the grace period. Never throws.
 */
export function runCommand(cmd: string, opts: CommandLimits): Promise<CommandResult> {
  const killGraceMs = opts.killGraceMs ?? KILL_GRACE_MS;
  return new Promise((resolve) => {
    let child;
    try {
      child = spawn('/bin/sh', ['-c', cmd], { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (e) {
      // spawn() throws for a NUL byte, E2BIG, ENOMEM...: a failed run like any other.
      resolve({
        status: null,
        signal: null,
        timedOut: false,
        output: `cannot run /bin/sh: ${(e as Error).message}`,
        pid: null,
      });
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let truncated = false;
    const collect = (b: Buffer): void => {
      if (size >= OUTPUT_LIMIT) {
        truncated = true;
        return;
      }
      const part = b.subarray(0, OUTPUT_LIMIT - size);
      truncated ||= part.length < b.length;
      chunks.push(part);
      size += part.length;
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);

    let timedOut = false;
    let killSent = false;
    let exit: { status: number | null; signal: string | null } | null = null;
    let streamsClosed = false;
    let spawnError: Error | null = null;
    let done = false;
    const timers: NodeJS.Timeout[] = [];

    const finish = (): void => {
      if (done) return;
      done = true;
      for (const t of timers) clearTimeout(t);
      child.stdout.destroy();
      child.stderr.destroy();
      let output = Buffer.concat(chunks).toString('utf8');
      if (truncated) output += `\n[output cut at ${OUTPUT_LIMIT} bytes]`;
      if (spawnError !== null) output = `cannot run /bin/sh: ${spawnError.message}`;
      resolve({
        status: exit?.status ?? null,
        signal: exit?.signal ?? null,
        timedOut,
        output,
        pid: child.pid ?? null,
      });
    };
    // Done when the shell has exited and its output is read; after a timeout,
    // also only once the group is gone or has been sent SIGKILL.
    const maybeFinish = (): void => {
      if (exit === null || !streamsClosed) return;
      if (timedOut && !killSent && child.pid !== undefined && groupAlive(child.pid)) return;
      finish();
    };

    child.on('error', (err) => {
      // Only a failed spawn gets here: no process, nothing to wait for.
      spawnError = err;
      finish();
    });
    child.on('exit', (status, signal) => {
      exit = { status, signal };
      timers.push(setTimeout(() => { streamsClosed = true; maybeFinish(); }, DRAIN_MS));
      maybeFinish();
    });
    child.on('close', () => {
      streamsClosed = true;
      maybeFinish();
    });

    const pgid = child.pid;
    if (pgid === undefined) return; // the 'error' event follows
    timers.push(
      setTimeout(() => {
        timedOut = true;
        signalGroup(pgid, 'SIGTERM');
        timers.push(
          setTimeout(() => {
            killSent = true;
            signalGroup(pgid, 'SIGKILL');
            maybeFinish();
          }, killGraceMs),
        );
      }, opts.timeoutMs),
    );
  });
}
