// Processes of the lab: one-shot commands with useful errors, long-running
// daemons that die with the test process, and waiting for conditions.

import { spawn, type ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';

export interface RunResult {
  stdout: string;
  stderr: string;
}

/** Runs a command to completion; rejects with its exit status and stderr when it fails. */
export function run(argv: readonly string[], input?: string): Promise<RunResult> {
  const [cmd, ...args] = argv;
  return new Promise((resolve, reject) => {
    const child = spawn(cmd!, args, { stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', (e) => reject(new Error(`${argv.join(' ')}: ${e.message}`)));
    child.on('close', (code, signal) => {
      if (code === 0) resolve({ stdout, stderr });
      else reject(new Error(`${argv.join(' ')}: exit ${code ?? signal}: ${stderr.trim() || stdout.trim()}`));
    });
    if (child.stdin) {
      // A child that exits without reading all its input: its exit status tells what went wrong, not EPIPE.
      child.stdin.on('error', () => {});
      child.stdin.end(input);
    }
  });
}

/** Like run, but only reports whether the command succeeded. */
export function succeeds(argv: readonly string[]): Promise<boolean> {
  return run(argv).then(
    () => true,
    () => false,
  );
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Polls `probe` until it returns a value other than undefined/false, or
 * throws after `timeoutMs` with `what` and the last state `describe` gives.
 */
export async function waitFor<T>(
  what: string,
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  {
    timeoutMs = 10_000,
    intervalMs = 50,
    describe,
  }: { timeoutMs?: number; intervalMs?: number; describe?: () => string } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${describe ? `; ${describe()}` : ''}`);
    }
    await sleep(intervalMs);
  }
}

const OUTPUT_CAP = 256 * 1024;

export interface DaemonOptions {
  /** Give it a pipe as standard input (write with `write()`); otherwise stdin is /dev/null. */
  stdin?: boolean;
}

/**
 * A long-running process in its own process group. `setpriv --pdeathsig`
 * makes it die with the test process even when that is killed outright, so
 * no daemon outlives a crashed test; stop() signals the whole group, which
 * also reaches children the daemon forked (knockd's command timers).
 */
export class Daemon {
  readonly child: ChildProcess;
  readonly exited: Promise<number | string>;
  private out = '';
  private done = false;

  constructor(
    readonly name: string,
    argv: readonly string[],
    { stdin = false }: DaemonOptions = {},
  ) {
    this.child = spawn('setpriv', ['--pdeathsig', 'TERM', ...argv], {
      stdio: [stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'],
      detached: true,
    });
    if (this.child.stdin) {
      this.child.stdin.on('error', () => {}); // EPIPE from a daemon that exited: its exit status tells why
      (this.child.stdin as Socket).unref();
    }
    const keep = (d: Buffer) => {
      if (this.out.length < OUTPUT_CAP) this.out += d.toString();
    };
    this.child.stdout!.on('data', keep);
    this.child.stderr!.on('data', keep);
    // A daemon must not keep the test process alive: if a test is abandoned
    // (an uncaught exception skips its after hooks), the process still
    // exits, and its 'exit' handler removes the lab.
    this.child.unref();
    (this.child.stdout as Socket).unref();
    (this.child.stderr as Socket).unref();
    this.exited = new Promise((resolve) => {
      this.child.on('error', (e) => {
        this.out += `\n${e.message}`;
        this.done = true;
        resolve(e.message);
      });
      this.child.on('exit', (code, signal) => {
        this.done = true;
        resolve(code ?? signal ?? 'unknown');
      });
    });
  }

  /** Everything it wrote to stdout and stderr so far. */
  get output(): string {
    return this.out;
  }

  /** Writes to its standard input (started with `stdin: true`). */
  write(text: string): void {
    if (!this.child.stdin) throw new Error(`${this.name} was started without a stdin pipe`);
    this.child.stdin.write(text);
  }

  get running(): boolean {
    return !this.done;
  }

  /** Waits until its output matches, failing early (with the output) if it exits. */
  async waitForOutput(re: RegExp, timeoutMs = 10_000): Promise<RegExpExecArray> {
    return waitFor(
      `${this.name} to print ${re}`,
      () => {
        const m = re.exec(this.out);
        if (m) return m;
        if (this.done) throw new Error(`${this.name} exited before printing ${re}:\n${this.out}`);
        return undefined;
      },
      { timeoutMs, describe: () => `its output:\n${this.out}` },
    );
  }

  /** TERM to the group, KILL after `graceMs`; then KILL to whatever is left of the group. */
  async stop(graceMs = 3000): Promise<void> {
    if (!this.done) {
      // Unreferenced, its exit would not keep the loop alive: a test waiting for it would be cut off.
      this.child.ref();
      this.signal('SIGTERM');
      const t = setTimeout(() => this.signal('SIGKILL'), graceMs);
      await this.exited;
      clearTimeout(t);
    }
    this.signal('SIGKILL');
  }

  /** For the process 'exit' handler, where nothing asynchronous runs. */
  killNow(): void {
    this.signal('SIGKILL');
  }

  private signal(sig: NodeJS.Signals): void {
    const pid = this.child.pid;
    if (pid === undefined) return;
    try {
      process.kill(-pid, sig);
    } catch {
      // ESRCH: the group is gone already.
    }
  }
}
