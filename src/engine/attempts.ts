// Attempts in progress, by source, with a cap on the number of sources so a
// flood from spoofed addresses cannot exhaust memory. Sources that got past
// the first knock are kept over those that did not: a random flood hits first
// ports, and must not push out a client half-way through its sequence.

import type { DoorState } from './doors.js';
import { type Linked, Recency } from './recency.js';

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

/** A source with attempts in progress, in the recency list of its kind (fresh or advanced). */
interface Source extends Linked<Source> {
  /** The engine's own copy of the address (see ownCopy). */
  readonly src: string;
  readonly attempts: Attempt[];
  /** Got past a first knock: kept over fresh sources when evicting. */
  advanced: boolean;
}

/**
 * A copy of `s` that holds no reference to the string it was cut from. An
 * address sliced out of a line keeps the whole decoded chunk (up to 1 MiB)
 * alive for as long as the engine keeps the address. Concatenating then
 * slicing makes V8 flatten a small new string: measured ~50 ns.
 */
export function ownCopy(s: string): string {
  return (` ${s}`).slice(1);
}

export class AttemptTable {
  private readonly bySrc = new Map<string, Source>();
  /** Least recently active first. */
  private readonly fresh = new Recency<Source>();
  private readonly advanced = new Recency<Source>();
  count = 0;
  evictions = 0;

  constructor(private readonly maxSources: number) {}

  get sources(): number {
    return this.bySrc.size;
  }

  /** The source's attempts (a copy, safe to iterate while removing), marking it the most recently active. */
  touch(src: string): Attempt[] | undefined {
    const s = this.bySrc.get(src);
    if (s === undefined) return undefined;
    this.listOf(s).renew(s);
    return [...s.attempts];
  }

  has(src: string, a: Attempt): boolean {
    return this.bySrc.get(src)?.attempts.includes(a) ?? false;
  }

  /** Adds an attempt; returns the source's address as the table keeps it (to be kept elsewhere instead of `src`). */
  add(src: string, a: Attempt): string {
    this.count++;
    const known = this.bySrc.get(src);
    if (known !== undefined) {
      known.attempts.push(a);
      return known.src;
    }
    const s: Source = { src: ownCopy(src), attempts: [a], advanced: false, prev: null, next: null };
    this.bySrc.set(s.src, s);
    this.fresh.push(s);
    if (this.bySrc.size > this.maxSources) this.evictOldest();
    return s.src;
  }

  /** The source got past a first knock: it is kept over fresh sources when evicting. */
  promote(src: string): void {
    const s = this.bySrc.get(src);
    if (s === undefined || s.advanced) return;
    this.fresh.unlink(s);
    s.advanced = true;
    this.advanced.push(s);
  }

  remove(src: string, a: Attempt): void {
    const s = this.bySrc.get(src);
    const i = s?.attempts.indexOf(a) ?? -1;
    if (s === undefined || i < 0) return;
    s.attempts.splice(i, 1);
    this.count--;
    if (s.attempts.length === 0) this.drop(s);
  }

  /** Every attempt, with its source (a snapshot). */
  all(): [string, Attempt][] {
    const out: [string, Attempt][] = [];
    for (const list of [this.fresh, this.advanced]) {
      for (const s of list) for (const a of s.attempts) out.push([s.src, a]);
    }
    return out;
  }

  private listOf(s: Source): Recency<Source> {
    return s.advanced ? this.advanced : this.fresh;
  }

  private drop(s: Source): void {
    this.listOf(s).unlink(s);
    this.bySrc.delete(s.src);
  }

  /** The least recently active fresh source goes first; an advanced one only when no fresh one is left. */
  private evictOldest(): void {
    const s = this.fresh.oldest() ?? this.advanced.oldest();
    if (s === null) return;
    this.drop(s);
    this.count -= s.attempts.length;
    this.evictions++;
  }
}
