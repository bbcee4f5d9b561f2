// Buffered stdout for commands that print a line per input line: one write
// per ~64 KiB or more, each awaited before its memory is written again (which
// also bounds what is queued for a slow reader).

import { LineSink } from './line-sink.js';

export class Output {
  /** Where the lines go before they are written: callers may fill it directly (LineSink.room). */
  readonly sink = new LineSink(1 << 17);

  constructor(private readonly stream: NodeJS.WritableStream = process.stdout) {
    // A failed write is reported by flush() (its callback has the error); the stream's 'error' event, which follows,
    // must not end the process before the command says what went wrong (`knocklog parse: write EPIPE`).
    stream.on('error', () => {});
  }

  line(s: string): void {
    this.sink.line(s);
  }

  /** Writes what is buffered once it is large enough (or always, with force). Rejects when the write fails. */
  async flush(force = false): Promise<void> {
    if (this.sink.length < 65536 && !(force && this.sink.length > 0)) return;
    await new Promise<void>((resolve, reject) => {
      this.stream.write(this.sink.bytes(), (e?: Error | null) => (e ? reject(e) : resolve()));
    });
    this.sink.clear();
  }
}
