// The reader's decisions on their way to the executor. One IPC message per
// decision would cap a flood's throughput (measured: 50,000 single messages
// cost a second of pipe writes), so a burst is batched; but a decision that
// acts (an open, an extend) is what the user waits for, and never waits.

import type { Decision } from '../types.js';

/** How long a burst's decisions may wait to share one message. */
export const BATCH_MS = 2;

/** A decision the executor acts on: sent at once, with whatever waits before it (order is kept). */
function acts(d: Decision): boolean {
  return d.event !== 'stage' && d.event !== 'timeout';
}

export class DecisionBatch {
  private pending: Decision[] = [];
  private timer: NodeJS.Timeout | null = null;
  private lastFlush = -Infinity;
  private urgent = false;

  constructor(
    private readonly send: (decisions: Decision[]) => void,
    private readonly now: () => number = Date.now,
  ) {}

  /** Queues a decision; settle() decides when it goes out. */
  push(d: Decision): void {
    this.pending.push(d);
    this.urgent ||= acts(d);
  }

  /**
   * After the decisions of some input: they go out now when one of them acts
   * or the last message is older than BATCH_MS (an idle reader), else within
   * BATCH_MS, with whatever comes meanwhile.
   */
  settle(): void {
    if (this.pending.length === 0) return;
    if (this.urgent || (this.timer === null && this.now() - this.lastFlush >= BATCH_MS)) {
      this.flush();
      return;
    }
    this.timer ??= setTimeout(() => {
      this.timer = null;
      this.flush();
    }, BATCH_MS);
  }

  /** Sends what waits (if anything). */
  flush(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.lastFlush = this.now();
    this.urgent = false;
    if (this.pending.length === 0) return;
    const ds = this.pending;
    this.pending = [];
    this.send(ds);
  }
}
