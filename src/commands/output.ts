// Buffered stdout for commands that print a line per input line: one write
// per ~64 KiB, waiting for the pipe to drain instead of queueing unboundedly.

import { once } from 'node:events';
import { LineSink } from './line-sink.js';

export class Output {
  private readonly sink = new LineSink(1 << 17);

  constructor(private readonly stream: NodeJS.WritableStream = process.stdout) {}

  line(s: string): void {
    this.sink.line(s);
  }

  /** Writes what is buffered once it is large enough (or always, with force). */
  async flush(force = false): Promise<void> {
    if (this.sink.length < 65536 && !(force && this.sink.length > 0)) return;
    await this.write(this.sink.take());
  }

  /** Writes a block of ready-made lines (after what is buffered). */
  async write(bytes: Buffer): Promise<void> {
    if (this.sink.length > 0) await this.flush(true);
    if (bytes.length === 0) return;
    if (!this.stream.write(bytes)) await once(this.stream, 'drain');
  }
}
