// When a knock happened, from the truest stamp its line carries. The kernel's
// uptime stamp is written with the packet; a syslog stamp is written when the
// logger got the line, and rsyslog re-stamps old kernel lines when it starts.

import { isoToMs } from './parse/time.js';
import type { KnockEvent } from './types.js';

/**
 * For a log read after the fact (replay): the boot time is estimated from the
 * first line carrying both stamps, and uptime stamps are placed on it. A
 * smaller uptime than the last one means the host rebooted: estimate again.
 */
export class LogClock {
  private boot: number | null = null;
  private lastUptime = -1;
  /** Whether the times given so far are since the epoch (else since boot: a log of uptime stamps only). */
  absolute = true;

  /** Milliseconds since the epoch (or since boot, for a log with uptime stamps only); null without any stamp. */
  at(ev: KnockEvent): number | null {
    if (ev.uptime === null) {
      const abs = ev.time === null ? null : isoToMs(ev.time);
      if (abs !== null) this.absolute = true;
      return abs;
    }
    if (ev.uptime < this.lastUptime) this.boot = null;
    this.lastUptime = ev.uptime;
    // The absolute time only matters until the boot is known (converting it costs as much as parsing the line).
    if (this.boot === null && ev.time !== null) this.boot = isoToMs(ev.time) - ev.uptime * 1000;
    this.absolute = this.boot !== null;
    return (this.boot ?? 0) + ev.uptime * 1000;
  }
}

/**
 * The live daemon's clock: when lines arrive, and when their knocks happened,
 * on the wall clock. An uptime stamp is placed on the boot time as the wall
 * clock puts it at the latest arrival: a wall clock stepped after the start
 * (NTP on a host without a real-time clock) must not make every knock look an
 * hour old, and dropped as stale. A line that carries only an absolute time is
 * taken at its word.
 */
export class LiveTime {
  private boot: number;

  constructor(
    private readonly wall: () => number = Date.now,
    private readonly mono: () => number = monotonicMs,
  ) {
    this.boot = wall() - mono();
  }

  /** Lines arrive: now, on the wall clock (and the boot time on it, for at()). */
  arrival(): number {
    const now = this.wall();
    this.boot = now - this.mono();
    return now;
  }

  /** When a knock happened (ms since the epoch), or null without any stamp. */
  at(ev: KnockEvent): number | null {
    if (ev.uptime !== null) return this.boot + ev.uptime * 1000;
    return ev.time === null ? null : isoToMs(ev.time);
  }
}

/** CLOCK_MONOTONIC in ms: since boot, the same for every process of this boot, never stepped. */
export function monotonicMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/**
 * A wall clock that never goes back: it runs with the monotonic clock, and
 * follows `wall` only when that moves ahead of it. Timers that close doors
 * count on it: a clock stepped back (by NTP, or by whoever may set it) must
 * not keep a door open for the size of the step; a clock stepped forward
 * closes early, the safe side.
 */
export function steadyClock(wall: () => number = Date.now, mono: () => number = monotonicMs): () => number {
  let offset = wall() - mono();
  return () => {
    const m = mono();
    offset = Math.max(offset, wall() - m);
    return offset + m;
  };
}
