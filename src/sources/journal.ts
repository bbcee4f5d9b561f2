// `journal`: the kernel's messages from journald, as JSON records (the parser
// checks `_TRANSPORT=kernel` and facility 0), followed by `journalctl -k -f -o json`. The
// cursor of the last record handed on is saved, so a restart of journalctl
// or of knocklog resumes right after it.

import { spawn } from 'node:child_process';
import { Checkpoint, checkpointPath } from './checkpoint.js';
import { lineBatches } from './lines.js';
import { Retry } from './retry.js';
import { DEFAULT_RETRY, type Source, type SourceOptions } from './source.js';

interface SavedCursor {
  cursor: string;
}

function isSavedCursor(v: unknown): v is SavedCursor {
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof (v as SavedCursor).cursor === 'string' &&
    (v as SavedCursor).cursor !== ''
  );
}

const CURSOR = /"__CURSOR" ?: ?"([^"\\]+)"/;

interface Outcome {
  error: NodeJS.ErrnoException | null;
  code: number | null;
  signal: string | null;
  stderr: string;
  records: number;
}

export class JournalSource implements Source {
  readonly name = 'journal';
  private readonly command: string;
  private readonly retry: Retry;
  private readonly checkpoint: Checkpoint<SavedCursor>;
  private cursor: string | null = null;
  /** When following began without a cursor (epoch seconds): a restart without one resumes from there. */
  private since: number | null = null;
  private kill: (() => void) | null = null;
  private running: Promise<void> = Promise.resolve();

  constructor(opts: SourceOptions) {
    this.command = opts.journalctl ?? 'journalctl';
    this.retry = new Retry(this.name, opts.retry ?? DEFAULT_RETRY, opts.log);
    const file = opts.stateDir === null ? null : checkpointPath(opts.stateDir, this.name);
    this.checkpoint = new Checkpoint(file, isSavedCursor, () => ({ cursor: this.cursor! }), opts.log);
  }

  start(onLines: (lines: string[]) => void): void {
    this.running = this.run(onLines);
  }

  async stop(): Promise<void> {
    this.retry.stop();
    this.kill?.();
    await this.running;
    if (this.cursor !== null) await this.checkpoint.flush();
  }

  private async run(onLines: (lines: string[]) => void): Promise<void> {
    this.cursor = (await this.checkpoint.load())?.cursor ?? null;
    while (!this.retry.stopped) {
      const usedCursor = this.cursor;
      const out = await this.follow(onLines);
      if (this.retry.stopped || !(await this.retry.failed(this.explain(out, usedCursor)))) break;
    }
  }

  private args(): string[] {
    const args = ['-k', '-f', '-q', '-o', 'json'];
    if (this.cursor !== null) args.push(`--after-cursor=${this.cursor}`);
    else if (this.since !== null) args.push(`--since=@${this.since}`);
    else {
      this.since = Math.floor(Date.now() / 1000);
      args.push('-n', '0');
    }
    return args;
  }

  /** Runs journalctl until it exits (or stop()), handing on its records. */
  private async follow(onLines: (lines: string[]) => void): Promise<Outcome> {
    const child = spawn(this.command, this.args(), { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Outcome = { error: null, code: null, signal: null, stderr: '', records: 0 };
    this.kill = () => child.kill('SIGTERM');
    child.on('error', (e) => (out.error = e));
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (d: string) => (out.stderr = (out.stderr + d).slice(-2000)));
    const closed = new Promise<void>((resolve) =>
      child.on('close', (code, signal) => {
        out.code = code;
        out.signal = signal;
        resolve();
      }),
    );
    try {
      for await (const batch of lineBatches(child.stdout)) {
        if (this.retry.stopped) break;
        const c = CURSOR.exec(batch[batch.length - 1]!);
        if (c !== null) {
          this.cursor = c[1]!;
          this.checkpoint.changed();
        }
        out.records += batch.length;
        this.retry.worked();
        onLines(batch);
      }
    } catch {
      // The pipe failed: journalctl's exit status says why.
    }
    child.kill('SIGTERM'); // when the loop was left early (stop)
    await closed;
    this.kill = null;
    return out;
  }

  private explain(out: Outcome, usedCursor: string | null): string {
    if (out.error !== null) {
      if (out.error.code === 'ENOENT') {
        return (
          `${this.command} was not found: install systemd's journalctl, ` +
          'or read another source (-s file:/var/log/kern.log, -s kmsg)'
        );
      }
      return `cannot run ${this.command}: ${out.error.message}`;
    }
    const why = out.signal !== null ? `was killed by ${out.signal}` : `exited with status ${out.code}`;
    const said = out.stderr.trim().split('\n').pop() ?? '';
    if (usedCursor !== null && out.records === 0 && /cursor/i.test(said)) {
      // A cursor from a journal that was since rotated away or deleted.
      this.cursor = null;
      return `${this.command} did not accept the saved cursor (${said}): following from now instead`;
    }
    return `${this.command} ${why}${said === '' ? '' : `: ${said}`}`;
  }
}
