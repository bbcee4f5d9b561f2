// Attempts in progress, by source, with a cap on the number of sources so a
// flood from spoofed addresses cannot exhaust memory. Sources that got past
// the first knock are kept over those that did not: a random flood hits first
// ports, and must not push out a client half-way through its sequence.

import type { DoorState } from './doors.js';

/** One source's progress through one door's sequence. */
export interface Attempt {
  door: DoorState;
  /** The sequence knocked: the door's keys, or for a time-based door those of `step`. */
  keys: readonly number[];
  /** A time-based door's time step this attempt is bound to. */
  step?: number;
  /** Steps done (1-based stage reached). */
  stage: number;
  /** Source port of the last knock, to recognise a retransmission of it. */
  lastSpt: number;
}

export class AttemptTable {
  /** Map order is recency: the least recently active source comes first. */
  private readonly fresh = new Map<string, Attempt[]>();
  private readonly advanced = new Map<string, Attempt[]>();
  count = 0;
  evictions = 0;

  /** Changed by a reload; a lower cap evicts at the next insert. */
  constructor(public maxSources: number) {}

  get sources(): number {
    return this.fresh.size + this.advanced.size;
  }

  /** The source's attempts (a copy, safe to iterate while removing), marking it the most recently active. */
  touch(src: string): Attempt[] | undefined {
    const map = this.fresh.has(src) ? this.fresh : this.advanced;
    const list = map.get(src);
    if (list === undefined) return undefined;
    map.delete(src);
    map.set(src, list);
    return [...list];
  }

  has(src: string, a: Attempt): boolean {
    return (this.fresh.get(src) ?? this.advanced.get(src))?.includes(a) ?? false;
  }

  add(src: string, a: Attempt): void {
    const list = this.fresh.get(src) ?? this.advanced.get(src);
    this.count++;
    if (list !== undefined) {
      list.push(a);
      return;
    }
    this.fresh.set(src, [a]);
    if (this.sources > this.maxSources) this.evictOldest();
  }

  /** The source got past a first knock: it is kept over fresh sources when evicting. */
  promote(src: string): void {
    const list = this.fresh.get(src);
    if (list === undefined) return;
    this.fresh.delete(src);
    this.advanced.set(src, list);
  }

  remove(src: string, a: Attempt): void {
    const map = this.fresh.has(src) ? this.fresh : this.advanced;
    const list = map.get(src);
    const i = list?.indexOf(a) ?? -1;
    if (list === undefined || i < 0) return;
    list.splice(i, 1);
    this.count--;
    if (list.length === 0) map.delete(src);
  }

  /** Every attempt, with its source (a snapshot). */
  all(): [string, Attempt][] {
    const out: [string, Attempt][] = [];
    for (const map of [this.fresh, this.advanced]) {
      for (const [src, list] of map) for (const a of list) out.push([src, a]);
    }
    return out;
  }

  private evictOldest(): void {
    const map = this.fresh.size > 0 ? this.fresh : this.advanced;
    const [src, list] = map.entries().next().value as [string, Attempt[]];
    map.delete(src);
    this.count -= list.length;
    this.evictions++;
  }
}
