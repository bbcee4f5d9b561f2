// The one way a live source (file, journal, kmsg, ulogd-socket) waits after a
// failure: it says why, waits the next backoff delay, and gives up at once
// when the source is stopped (one AbortSignal ends every wait).

import { setTimeout as sleep } from 'node:timers/promises';
import { Backoff, type RetryDelays } from '../backoff.js';
import type { Log } from '../log.js';

export class Retry {
  private readonly controller = new AbortController();
  private readonly backoff: Backoff;

  constructor(
    private readonly name: string,
    delays: RetryDelays,
    private readonly log: Log,
  ) {
    this.backoff = new Backoff(delays);
  }

  /** Aborted by stop(): waits (a retry's, a poll's) end at once. */
  get signal(): AbortSignal {
    return this.controller.signal;
  }

  get stopped(): boolean {
    return this.controller.signal.aborted;
  }

  stop(): void {
    this.controller.abort();
  }

  /** The source works again: the next failure waits the shortest delay. */
  worked(): void {
    this.backoff.reset();
  }

  /**
   * Logs `NAME: WHY; trying again in N s` (and `from`) and waits that long. False
   * when the source was stopped, before or meanwhile: then nothing is tried again.
   */
  async failed(why: string, from = ''): Promise<boolean> {
    if (this.stopped) return false;
    const delay = this.backoff.delay();
    this.log.error(`${this.name}: ${why}; trying again in ${delay / 1000} s${from}`);
    return this.pause(delay);
  }

  /** Waits `ms` unless stopped meanwhile; false when stopped. */
  async pause(ms: number): Promise<boolean> {
    try {
      await sleep(ms, undefined, { signal: this.signal });
    } catch {
      // aborted by stop()
    }
    return !this.stopped;
  }
}
