// Retry delays for anything that fails and is tried again (a source, a stop
// command, the reader process): doubling from min to max.

export interface RetryDelays {
  minMs: number;
  maxMs: number;
}

/** The delay before retry number `attempt` (1-based). */
export function retryDelay(delays: RetryDelays, attempt: number): number {
  return Math.min(delays.minMs * 2 ** Math.min(attempt - 1, 30), delays.maxMs);
}

/** Counts the failures in a row; back to the shortest delay once it works again. */
export class Backoff {
  private failures = 0;

  constructor(private readonly delays: RetryDelays) {}

  /** The delay before the next attempt. */
  delay(): number {
    return retryDelay(this.delays, ++this.failures);
  }

  reset(): void {
    this.failures = 0;
  }
}
