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
 * The live daemon's clock: when lines arrive, when their knocks happened, and
 * now for the reader's timers, all on one scale that never goes back (see
 * SteadyClock). An uptime stamp is placed on the boot time on that scale at
 * the latest arrival: a wall clock stepped forward after the start (NTP on a
 * host without a real-time clock) must not make every knock look an hour old,
 * and one stepped back must not stretch a seq_timeout by the step. A line
 * that carries only an absolute time is taken at its word, moved by what the
 * scale is ahead of the wall clock.
 */
export class LiveTime {
  private readonly clock: SteadyClock;
  private boot = 0;
  /** How far this clock ran ahead of the wall clock at the latest arrival (after a step back). */
  lead = 0;

  constructor(wall: () => number = Date.now, mono: () => number = monotonicMs) {
    this.clock = new SteadyClock(wall, mono);
    this.arrival();
  }

  /** Lines arrive: now (and the boot time and the lead over the wall clock, for at()). */
  arrival(): number {
    const r = this.clock.read();
    this.boot = r.now - r.mono;
    this.lead = r.now - r.wall;
    return r.now;
  }

  /** Now, for timers. */
  now(): number {
    return this.clock.read().now;
  }

  /** When a knock happened (ms), or null without any stamp. */
  at(ev: KnockEvent): number | null {
    if (ev.uptime !== null) return this.boot + ev.uptime * 1000;
    return ev.time === null ? null : isoToMs(ev.time) + this.lead;
  }
}

/** CLOCK_MONOTONIC in ms: since boot, the same for every process of this boot, never stepped. */
export function monotonicMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/**
 * A wall clock that never goes back: it runs with the monotonic clock, and
 * follows the wall clock only when that moves ahead of it. Timers that close
 * doors or end sequences count on it: a clock stepped back (by NTP, or by
 * whoever may set it) must not keep a door open, or a sequence alive, for the
 * size of the step; a clock stepped forward ends them early, the safe side.
 */
export class SteadyClock {
  private offset: number;

  constructor(
    private readonly wall: () => number = Date.now,
    private readonly mono: () => number = monotonicMs,
  ) {
    this.offset = wall() - mono();
  }

  /** Now, with the two clocks it was read from. */
  read(): { now: number; wall: number; mono: number } {
    const mono = this.mono();
    const wall = this.wall();
    this.offset = Math.max(this.offset, wall - mono);
    return { now: this.offset + mono, wall, mono };
  }
}
