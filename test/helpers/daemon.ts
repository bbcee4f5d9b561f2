// Runs the real `knocklog run` as a child process and watches its JSON log.

import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const cli = fileURLToPath(new URL('../../src/cli.js', import.meta.url));

export interface LogRecord {
  level: number;
  time: number;
  msg: string;
}

/** A temp dir the unprivileged reader (knocklog) can read: mkdtemp makes it 0700. */
export function openTempDir(name: string): string {
  const dir = mkdtempSync(join(tmpdir(), `knocklog-${name}-`));
  chmodSync(dir, 0o755);
  return dir;
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

export async function waitUntil(what: string, check: () => boolean, timeoutMs = 15_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export class DaemonProcess {
  readonly log: LogRecord[] = [];
  readonly child: ChildProcess;
  private exited: Promise<number | null>;
  stderr = '';

  /** `stdin`: give it a pipe as standard input (`child.stdin`), for `-s stdin`. */
  /** `bin`: another knocklog (an installed copy) instead of this checkout's. */
  constructor(
    args: string[],
    { stdin = false, env = process.env, bin = cli }: { stdin?: boolean; env?: NodeJS.ProcessEnv; bin?: string } = {},
  ) {
    this.child = spawn(process.execPath, [bin, 'run', ...args],
      { stdio: [stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'], env });
    let carry = '';
    this.child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      const lines = (carry + chunk).split('\n');
      carry = lines.pop() ?? '';
      for (const l of lines) if (l !== '') this.log.push(JSON.parse(l) as LogRecord);
    });
    this.child.stderr!.setEncoding('utf8').on('data', (c: string) => { this.stderr += c; });
    this.exited = new Promise((r) => this.child.on('exit', (code) => r(code)));
  }

  messages(): string[] {
    return this.log.map((r) => r.msg);
  }

  has(re: RegExp): boolean {
    return this.log.some((r) => re.test(r.msg));
  }

  /** Waits for a log message matching `re`; each call scans only records it has not seen (a flood logs 100,000s). */
  async waitFor(re: RegExp, timeoutMs?: number): Promise<void> {
    let seen = 0;
    const found = () => {
      for (; seen < this.log.length; seen++) if (re.test(this.log[seen]!.msg)) return true;
      return false;
    };
    try {
      await waitUntil(`log ${re}`, found, timeoutMs);
    } catch {
      throw new Error(`timed out waiting for log ${re} (stderr: ${this.stderr.slice(0, 500)}; `
        + `last log: ${this.messages().slice(-5).join(' | ')})`);
    }
  }

  /** Messages equal to `msg` so far. */
  count(msg: string): number {
    let n = 0;
    for (const r of this.log) if (r.msg === msg) n++;
    return n;
  }

  /** The reader child's pid, from /proc (the only child running node). */
  readerPid(): number | null {
    try {
      const kids = readFileSync(`/proc/${this.child.pid}/task/${this.child.pid}/children`, 'utf8').trim().split(/\s+/)
        .filter(Boolean);
      for (const k of kids) {
        if (readFileSync(`/proc/${k}/cmdline`, 'utf8').includes('reader.js')) return Number(k);
      }
    } catch {
      // gone
    }
    return null;
  }

  signal(sig: NodeJS.Signals): void {
    this.child.kill(sig);
  }

  /** The exit status once it exits by itself, or 'running' if it still runs after `ms`. */
  exitWithin(ms: number): Promise<number | null | 'running'> {
    return Promise.race([this.exited, new Promise<'running'>((r) => setTimeout(() => r('running'), ms))]);
  }

  async stop(sig: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(sig);
    return this.exited;
  }
}
