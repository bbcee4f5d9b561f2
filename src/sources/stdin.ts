// Lines from standard input (or any stream): a finite source that ends with its input.

import type { Readable } from 'node:stream';
import { lineBatches } from './lines.js';
import type { Log } from '../log.js';
import type { Source } from './source.js';

export class StdinSource implements Source {
  readonly name = 'stdin';
  private stopped = false;
  private done: Promise<void> = Promise.resolve();

  constructor(
    private readonly input: Readable,
    private readonly log: Log,
  ) {}

  start(onLines: (lines: string[]) => void, onEnd?: () => void): void {
    this.done = (async () => {
      try {
        for await (const batch of lineBatches(this.input)) {
          if (this.stopped) break;
          onLines(batch);
        }
      } catch (e) {
        // Destroying the input at stop() ends the loop with an error: not a problem.
        if (!this.stopped) this.log.error(`stdin: cannot read: ${(e as Error).message}`);
      }
      if (!this.stopped) onEnd?.();
    })();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.input.destroy();
    await this.done;
  }
}
