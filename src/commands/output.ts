// Buffered stdout for commands that print a line per input line: one write
// per ~64 KiB, waiting for the pipe to drain instead of queueing unboundedly.

import { once } from 'node:events';

export class Output {
  private buf = '';

  constructor(private readonly stream: NodeJS.WritableStream = process.stdout) {}

  line(s: string): void {
    this.buf += s + '\n';
  }

  /** Writes what is buffered once it is large enough (or always, with force). */
  async flush(force = false): Promise<void> {
    if (this.buf.length < 65536 && !force) return;
    const ok = this.stream.write(this.buf);
    this.buf = '';
    if (!ok) await once(this.stream, 'drain');
  }
}
