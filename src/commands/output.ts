// Buffered stdout for commands that print a line per input line: one write
// per ~64 KiB or more, each awaited before its memory is written again (which
// also bounds what is queued for a slow reader).

import { LineSink } from './line-sink.js';

export class Output {
  /** Where the lines go before they are written: callers may fill it directly (LineSink.room). */
  readonly sink = new LineSink(1 << 17);

  constructor(private readonly stream: NodeJS.WritableStream = process.stdout) {}

  line(s: string): void {
    this.sink.line(s);
  }

  /** Writes what is buffered once it is large enough (or always, with force). */
  async flush(force = false): Promise<void> {
    if (this.sink.length < 65536 && !(force && this.sink.length > 0)) return;
    // Failures surface as the stream's 'error' event, as with any write.
    await new Promise<void>((resolve) => this.stream.write(this.sink.bytes(), () => resolve()));
    this.sink.clear();
  }
}
