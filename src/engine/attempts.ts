// Attempts in progress, by source, with a cap on the number of sources so a
// flood from spoofed addresses cannot exhaust memory. Sources that got past
// the first knock are kept over those that did not: a random flood hits first
// ports, and must not push out a client half-way through its sequence.

import type { DoorState, Starter } from './doors.js';
import { Ipv4Map } from './ipv4-map.js';
import { type Linked, Recency } from './recency.js';

/**
 * One source's progress through one door's sequence. It is also its own
 * timeout in the engine's deadline heap: a flood keeps a million of them, so
 * each costs as few objects as can be.
 */
export interface Attempt {
  door: DoorState;
  /** The sequence knocked: the door's keys, or for a time-based door those of its first candidate. */
  keys: readonly number[];
  /**
   * A time-based door's sequences (of users and steps) that the knocks so far
   * match, in one attempt however many they are (a flood at a port that is
   * several users' first port costs one). On a bound door their keys hold
   * only the first port until the second knock derives the rest. Undefined for
   * a fixed sequence (present in every attempt: one shape, and any spare one fits).
   */
  cands: readonly Starter[] | undefined;
  /** Steps done (1-based stage reached). */
  stage: number;
  /** Source port of the last knock, to recognise a retransmission of it. */
  lastSpt: number;
  /** When it times out: the first knock's time plus the door's seq_timeout. */
  at: number;
  /** Its source while in progress; null once it ended (done, broken, timed out or evicted). */
  source: Source | null;
  /** The source's next attempt. */
  sibling: Attempt | null;
}

/** A source with attempts in progress, in the recency list of its kind (fresh or advanced). */
export interface Source extends Linked<Source> {
  /** Its address as the table keeps it (see keyOf); a source object is reused for another address once dropped. */
  key: SourceKey;
  /** Its attempts, oldest first, linked by `sibling`. */
  first: Attempt | null;
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

/** Dropped source objects kept for reuse at most: one is enough for a flood, where each add evicts one. */
const MAX_SPARE = 64;

/** An IPv4 address as a number, or any other source as a string of its own. */
type SourceKey = number | string;

/** A dotted quad as the kernel prints it (no leading zeros) as a number, else null. */
function ipv4Number(s: string): number | null {
  if (s.length < 7 || s.length > 15) return null;
  let n = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 46 /* . */) {
      if (digits === 0 || dots === 3) return null;
      n = n * 256 + part;
      part = 0;
      digits = 0;
      dots++;
    } else {
      if (c < 48 || c > 57 || (digits === 1 && part === 0) || (part = part * 10 + c - 48) > 255) return null;
      digits++;
    }
  }
  return dots === 3 && digits > 0 ? n * 256 + part : null;
}

/** The key a source is kept under: a number costs nothing beyond the map's slot, a string 64 bytes. */
function keyOf(src: string): SourceKey {
  return ipv4Number(src) ?? ownCopy(src);
}

/** The address a key stands for. */
export function sourceOf(s: Source): string {
  const k = s.key;
  return typeof k === 'string' ? k : `${k >>> 24}.${(k >>> 16) & 255}.${(k >>> 8) & 255}.${k & 255}`;
}
export class AttemptTable {
  /** IPv4 sources, and any other: a flood's churn allocates nothing in the first (see ipv4-map.ts). */
  private readonly byV4 = new Ipv4Map<Source>();
  private readonly byOther = new Map<string, Source>();
  /** Dropped sources, reused by the next new ones: a flood at the cap drops one for every one it adds. */
  private readonly spare: Source[] = [];
  /** The last address looked up and its key: the engine asks about one source several times a knock. */
  private lastSrc = '';
  private lastKey: SourceKey = '';
  /** Least recently active first. */
  private readonly fresh = new Recency<Source>();
  private readonly advanced = new Recency<Source>();
  count = 0;
  evictions = 0;

  /** Changed by a reload; a lower cap evicts at the next insert. */
  constructor(public maxSources: number) {}

  get sources(): number {
    return this.byV4.size + this.byOther.size;
  }

  /** The source's attempts (a copy, safe to iterate while removing), marking it the most recently active. */
  touch(src: string): Attempt[] | undefined {
    const s = this.find(this.key(src));
    if (s === undefined) return undefined;
    this.listOf(s).renew(s);
    const out: Attempt[] = [];
    for (let a = s.first; a !== null; a = a.sibling) out.push(a);
    return out;
  }

  /** Adds an attempt (its `source` and `sibling` are set here), after the source's others. */
  add(src: string, a: Attempt): void {
    this.count++;
    a.sibling = null;
    const key = this.key(src);
    const known = this.find(key);
    if (known !== undefined) {
      a.source = known;
      let last = known.first;
      while (last?.sibling != null) last = last.sibling;
      if (last === null) known.first = a;
      else last.sibling = a;
      return;
    }
    let s = this.spare.pop();
    if (s === undefined) s = { key, first: a, advanced: false, prev: null, next: null };
    else {
      s.key = key;
      s.first = a;
      s.advanced = false;
    }
    a.source = s;
    if (typeof key === 'number') this.byV4.set(key, s);
    else this.byOther.set(key, s);
    this.fresh.push(s);
    if (this.sources > this.maxSources) this.evictOldest();
  }

  /** The source got past a first knock: it is kept over fresh sources when evicting. */
  promote(src: string): void {
    const s = this.find(this.key(src));
    if (s === undefined || s.advanced) return;
    this.fresh.unlink(s);
    s.advanced = true;
    this.advanced.push(s);
  }

  /** Ends an attempt (nothing if it already ended). */
  remove(a: Attempt): void {
    const s = a.source;
    if (s === null) return;
    if (s.first === a) s.first = a.sibling;
    else for (let b = s.first; b !== null; b = b.sibling) if (b.sibling === a) b.sibling = a.sibling;
    a.source = null;
    a.sibling = null;
    this.count--;
    if (s.first === null) this.drop(s);
  }

  /** Every attempt in progress (a snapshot). */
  all(): Attempt[] {
    const out: Attempt[] = [];
    for (const list of [this.fresh, this.advanced]) {
      for (const s of list) for (let a = s.first; a !== null; a = a.sibling) out.push(a);
    }
    return out;
  }

  private key(src: string): SourceKey {
    if (src !== this.lastSrc) {
      this.lastKey = keyOf(src);
      this.lastSrc = src;
    }
    return this.lastKey;
  }

  private find(key: SourceKey): Source | undefined {
    return typeof key === 'number' ? this.byV4.get(key) : this.byOther.get(key);
  }

  private listOf(s: Source): Recency<Source> {
    return s.advanced ? this.advanced : this.fresh;
  }

  /** Takes a source (whose attempts have ended) out of the table, keeping its object for reuse. */
  private drop(s: Source): void {
    this.listOf(s).unlink(s);
    if (typeof s.key === 'number') this.byV4.delete(s.key);
    else this.byOther.delete(s.key);
    s.first = null;
    if (this.spare.length < MAX_SPARE) this.spare.push(s);
  }

  /** The least recently active fresh source goes first; an advanced one only when no fresh one is left. */
  private evictOldest(): void {
    const s = this.fresh.oldest() ?? this.advanced.oldest();
    if (s === null) return;
    for (let a = s.first; a !== null; a = a.sibling) {
      a.source = null;
      this.count--;
    }
    this.drop(s);
    this.evictions++;
  }
}
