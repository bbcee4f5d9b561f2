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
 * this covers for minutes. Measured (heapUsed + arrayBuffers after gc): a
 * full set takes 5.8 MB with IPv4 records, 6.7 MB with IPv6.
 */
export const MAX_IDENTITIES = 50_000;

export class SeenRecords {
  private readonly seen = new Set<string>();
  // The same identities in the order first seen, with until when a copy could
  // still count (ms): a ring, since a Map iterated from its oldest entry
  // re-skips every deleted one (measured over 400,000 calls at a full set:
  // 28-73 us a call, against 1.1-2.4 us with the ring).
  private readonly order: string[] = [];
  private readonly until: Float64Array;
  private head = 0;
  private windowFor: readonly Door[] | null = null;
  private windowMs = 0;

  /** `doors`: the current config's, whose longest seq_timeout is how long a copy can still count. */
  constructor(
    private readonly doors: () => readonly Door[],
    private readonly max = MAX_IDENTITIES,
  ) {
    this.until = new Float64Array(max);
  }

  /** Whether `ev` (its time `at`, arrived `now`, both ms) is a copy of a record seen before. */
  copy(ev: KnockEvent, at: number, now: number): boolean {
    if (ev.uptime === null) return false;
    // A copy arriving later than its door's seq_timeout after the record's time is stale anyway.
    while (this.seen.size > 0 && this.until[this.head]! < now) this.dropOldest();
    // join() makes a flat string; a template literal's result kept its parts (measured: about 3.7x the memory).
    const id = [Math.round(ev.uptime * 1e6), ev.src, ev.dst, ev.proto, ev.spt, ev.dpt].join(' ');
    if (this.seen.has(id)) return true;
    const until = at + this.window();
    if (until < now) return false; // stale already: no copy of it can count
    if (this.seen.size >= this.max) this.dropOldest();
    const tail = (this.head + this.seen.size) % this.max;
    this.order[tail] = id;
    this.until[tail] = until;
    this.seen.add(id);
    return false;
  }

  get size(): number {
    return this.seen.size;
  }

  private dropOldest(): void {
    this.seen.delete(this.order[this.head]!);
    this.head = (this.head + 1) % this.max;
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
