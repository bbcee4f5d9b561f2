// `knock --wait PORT`: how long until the door is open, i.e. until HOST:PORT
// accepts a TCP connection.

import net from 'node:net';
import { performance } from 'node:perf_hooks';

export interface WaitOptions {
  /** Give up this long after `since`. */
  timeoutMs: number;
  /** Start a new attempt this often. */
  everyMs: number;
  /** performance.now() of the moment the time is counted from (the last hit). */
  since: number;
}

/** An attempt lives this long: longer than any round trip, short enough to bound the sockets in flight. */
const ATTEMPT_MS = 2000;

/**
 * Starts a connection attempt every `everyMs` until one connects or the time is
 * up. Attempts overlap: behind a DROP a SYN gets no answer, and the door may
 * open while one is pending, so a fresh SYN must not wait for the old one's
 * 1 s retransmission. Resolves with whether the port opened and the ms since
 * `o.since`; every socket is closed by then.
 */
export function waitForPort(address: string, port: number, o: WaitOptions): Promise<{ open: boolean; ms: number }> {
  return new Promise((resolve) => {
    const pending = new Set<net.Socket>();
    const deadline = o.since + o.timeoutMs;
    let timer: NodeJS.Timeout | undefined;
    let done = false;
    const finish = (open: boolean): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      for (const s of pending) s.destroy();
      resolve({ open, ms: Math.round(performance.now() - o.since) });
    };
    const attempt = (): void => {
      const left = deadline - performance.now();
      if (left <= 0) {
        finish(false);
        return;
      }
      const s = net.connect({ host: address, port });
      pending.add(s);
      const end = (): void => {
        pending.delete(s);
        s.destroy();
      };
      s.setTimeout(Math.min(ATTEMPT_MS, left), end);
      s.on('error', end);
      s.on('connect', () => {
        end();
        finish(true);
      });
      timer = setTimeout(attempt, o.everyMs);
    };
    attempt();
  });
}
