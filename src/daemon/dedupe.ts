// One kernel record can reach the reader by several sources (kmsg and
// /var/log/kern.log, journal and a file), each at its own pace. Counted twice,
// the late copy of knock 1 arriving after knock 2 starts the attempt over and
// the door never opens (audit L2). So, with more than one source, a record
// already seen is dropped.
//
// A record's identity is the kernel's uptime stamp (microseconds, written with
// the packet) with its addresses, protocol and ports. Records without an
// uptime stamp (printk time off, ulogd2) are never taken for copies: two real
// packets can share every other field within a syslog stamp's second.

import type { Door, KnockEvent } from '../types.js';

/**
 * Most identities kept; beyond it the oldest is forgotten, so a flood cannot
 * grow the set (a copy of a forgotten record then counts again, as before this
 * set existed). The generated rules log at most 100 records a second, which
 * this covers for minutes. Measured (heapUsed after gc): a full set takes
 * 6.3 MB with IPv4 records, 7.1 MB with IPv6.
 */
export const MAX_IDENTITIES = 50_000;

export class SeenRecords {
  /** Identity -> until when a copy could still count (ms); in the order first seen. */
  private readonly seen = new Map<string, number>();
  private windowFor: readonly Door[] | null = null;
  private windowMs = 0;

  /** `doors`: the current config's, whose longest seq_timeout is how long a copy can still count. */
  constructor(
    private readonly doors: () => readonly Door[],
    private readonly max = MAX_IDENTITIES,
  ) {}

  /** Whether `ev` (its time `at`, arrived `now`, both ms) is a copy of a record seen before. */
  copy(ev: KnockEvent, at: number, now: number): boolean {
    if (ev.uptime === null) return false;
    this.forget(now);
    // join() makes a flat string; a template literal's result kept its parts (measured: 3.7x the memory).
    const id = [Math.round(ev.uptime * 1e6), ev.src, ev.dst, ev.proto, ev.spt, ev.dpt].join(' ');
    if (this.seen.has(id)) return true;
    const until = at + this.window();
    if (until < now) return false; // stale already: no copy of it can count
    if (this.seen.size >= this.max) this.seen.delete(this.seen.keys().next().value as string);
    this.seen.set(id, until);
    return false;
  }

  get size(): number {
    return this.seen.size;
  }

  /** A copy arriving later than its door's seq_timeout after the record's time is stale anyway: forgotten. */
  private forget(now: number): void {
    for (const [id, until] of this.seen) {
      if (until >= now) return;
      this.seen.delete(id);
    }
  }

  private window(): number {
    const doors = this.doors();
    if (doors !== this.windowFor) {
      this.windowFor = doors;
      this.windowMs = doors.reduce((m, d) => Math.max(m, d.seqTimeoutMs), 0);
    }
    return this.windowMs;
  }
}
