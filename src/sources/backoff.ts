// Retry delays for a failing source: doubling from min to max, back to min
// once the source works again.

import type { RetryDelays } from './source.js';

export class Backoff {
  private next: number;

  constructor(private readonly delays: RetryDelays) {
    this.next = delays.minMs;
  }

  /** The delay before the next attempt. */
  delay(): number {
    const d = this.next;
    this.next = Math.min(this.next * 2, this.delays.maxMs);
    return d;
  }

  reset(): void {
    this.next = this.delays.minMs;
  }
}
