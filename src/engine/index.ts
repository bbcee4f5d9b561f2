// The sequence engine: knock events and a clock in, decisions out. Pure and
// deterministic: no I/O, no timers; the caller asks nextDeadline() and calls
// tick() then. Semantics: the README, "Where knocklog differs from knockd".

import type { Decision, Door, KnockEvent, OpenDoor } from '../types.js';
import { DoorIndex, DoorState, resolveBound, sameKnocking, type Starter, stepKey, TimedDoorState } from './doors.js';
import { type Attempt, AttemptTable, ownCopy, sourceOf } from './attempts.js';
import { MinHeap } from './heap.js';
import { sourceRefusal } from '../net.js';
import { splitUsedKey, STEP_SKEW, stepRefusal, timeStep, usedKey, type UsedSteps } from '../totp/index.js';

export { DoorState } from './doors.js';

export interface EngineOptions {
  /** Is this one of the host's addresses? (Doors without Target listen on those.) */
  isLocal: (addr: string) => boolean;
  /** Most sources with an attempt in progress; the least recently active is evicted beyond it. */
  maxSources: number;
  /** Only knocks that came in on this interface count; null: any. */
  iface: string | null;
}

export interface EngineStats {
  /** Sources with an attempt in progress. */
  sources: number;
  attempts: number;
  open: number;
  /** Sources dropped because maxSources was reached. */
  evictions: number;
  /** Knocks ignored because they arrived later than their door's seq_timeout. */
  stale: number;
}

/** What a knock did to a source's live attempts (see Engine.advance). */
interface Advanced {
  readonly consumed: ReadonlySet<DoorState>;
  readonly stale: boolean;
}

/** A sequence timeout (the attempt itself), or a door's close. */
type Deadline = Attempt | { at: number; open: OpenDoor };

export class Engine {
  private doors: DoorState[] = [];
  private index = new DoorIndex([]);
  private readonly attempts: AttemptTable;
  private readonly open = new Map<string, OpenDoor>();
  /** Time-based doors' used time steps, by usedKey (kept across reloads: a used step stays used). */
  private readonly used = new Map<string, Set<number>>();
  private readonly deadlines = new MinHeap<Deadline>();
  /**
   * Attempts that ended and left the deadline heap, for begin() to reuse: a
   * flood at the MaxSources cap ends one for every one it starts, and each
   * would otherwise die in the old generation (measured: 1M spoofed first
   * knocks, peak RSS 222 MB with them, see BENCHMARKS.md).
   */
  private readonly spare: Attempt[] = [];
  /** The lead over the wall clock of the knock being decided (see knock). */
  private lead = 0;
  private stale = 0;

  constructor(doors: readonly Door[], private opts: EngineOptions) {
    this.attempts = new AttemptTable(opts.maxSources);
    this.replaceDoors(doors);
  }

  /** A reload's Interface and MaxSources: they apply from the next knock. */
  reconfigure(o: Pick<EngineOptions, 'iface' | 'maxSources'>): void {
    this.opts = { ...this.opts, iface: o.iface, maxSources: o.maxSources };
    this.attempts.maxSources = o.maxSources;
  }

  /**
   * A knock seen at `at` (ms, the line's own time). `arrivedAt`, in the daemon,
   * is when the line reached us: a knock older than its door's seq_timeout on
   * arrival (a catch-up after restart, old lines re-logged) is ignored.
   * `lead`: how far that clock runs ahead of the wall clock (the daemon's
   * never goes back, so after a step back it is ahead); time-based doors'
   * steps are wall time, as the client and the executor count them.
   * Deadlines due by `at` are decided first.
   */
  knock(ev: KnockEvent, at: number, arrivedAt: number = at, lead = 0): Decision[] {
    this.lead = lead;
    const out = this.tick(at);
    const key = stepKey(ev.proto, ev.dpt);
    if (!this.concerns(ev, key)) return out;
    const mine = this.attempts.touch(ev.src);
    // A new source (what a flood is made of) has no attempt to advance.
    const advanced = mine === undefined ? NOTHING_ADVANCED : this.advance(mine, ev, key, at, arrivedAt, out);
    const staleStart = this.start(ev, key, at, arrivedAt, advanced.consumed, out);
    // A stale knock counts once, however many doors it concerns.
    if (advanced.stale || staleStart) this.stale++;
    this.compact();
    return out;
  }

  /** Whether a knock is for some door at all: on the Interface, from a possible source, seen by a door. */
  private concerns(ev: KnockEvent, key: number): boolean {
    if (this.opts.iface !== null && ev.in !== this.opts.iface) return false;
    // A martian source is forged or garbled (the kernel drops such packets); loopback is left to each door.
    if (sourceRefusal(ev.src, true) !== null) return false;
    return this.visible(ev, key);
  }

  /**
   * A knock on a source's live attempts: each advances on its right step,
   * ignores a retransmission, else ends. Returns the doors for which the
   * knock was part of a live attempt (it then starts no new one there), and
   * whether some door found it stale.
   */
  private advance(
    mine: Attempt[], ev: KnockEvent, key: number, at: number, arrivedAt: number, out: Decision[],
  ): Advanced {
    const src = ev.src;
    const consumed = new Set<DoorState>();
    let stale = false;
    /** Doors opened by this knock: a time-based door's other candidate attempts end with it. */
    const done = new Set<DoorState>();
    for (const a of mine) {
      const d = a.door;
      if (!d.addressed(ev, this.opts.isLocal)) continue;
      if (done.has(d)) {
        this.attempts.remove(a);
        continue;
      }
      if (arrivedAt - at > d.door.seqTimeoutMs) {
        stale = true;
        consumed.add(d);
        continue;
      }
      // A bound sequence's ports after the first: derived for the sources that get this far, not for a flood's.
      if (a.cands === undefined ? a.keys[a.stage] === key : this.narrow(a, key, src)) {
        a.stage++;
        a.lastSpt = ev.spt;
        this.attempts.promote(src);
        // A time-based door may have one attempt per candidate step: one stage line for them.
        if (!consumed.has(d)) out.push({ event: 'stage', at, door: d.name, src, stage: a.stage });
        consumed.add(d);
        if (a.stage === a.keys.length) {
          this.attempts.remove(a);
          done.add(d);
          this.complete(d, src, at, out, a.cands?.[0]);
        }
        continue;
      }
      if (a.keys[a.stage - 1] === key && ev.spt === a.lastSpt) {
        consumed.add(d);
        continue;
      }
      // The wrong knock may itself be a first knock (knockd consumed it).
      this.attempts.remove(a);
    }
    return { consumed, stale };
  }

  /**
   * New attempts, in config order, for the doors this knock starts: fixed
   * sequences, then time-based doors' unused sequences of the steps around
   * `at`. Returns whether some door found the knock stale.
   */
  private start(
    ev: KnockEvent, key: number, at: number, arrivedAt: number, consumed: ReadonlySet<DoorState>, out: Decision[],
  ): boolean {
    const src = ev.src;
    let stale = false;
    for (const d of this.index.startingWith(key)) {
      const f = this.freshness(d, ev, at, arrivedAt, consumed);
      if (f === 'stale') stale = true;
      if (f !== 'fresh') continue;
      out.push({ event: 'stage', at, door: d.name, src, stage: 1 });
      this.begin(d, d.keys, src, at, ev.spt, out);
    }
    for (const d of this.index.covering(key)) {
      const f = this.freshness(d, ev, at, arrivedAt, consumed);
      if (f === 'stale') stale = true;
      if (f !== 'fresh') continue;
      const cands = this.startersOf(d, key, at);
      if (cands.length === 0) continue;
      out.push({ event: 'stage', at, door: d.name, src, stage: 1 });
      this.begin(d, cands[0]!.keys, src, at, ev.spt, out, cands);
    }
    return stale;
  }

  /** Decides every deadline up to `now`: sequence timeouts (after the window) and door closes (at their time). */
  tick(now: number): Decision[] {
    const out: Decision[] = [];
    for (;;) {
      const top = this.deadlines.peek();
      if (top === undefined) break;
      if (!this.live(top)) {
        this.release(this.deadlines.pop()!);
        continue;
      }
      // A knock exactly at first + seq_timeout is still in time.
      if ('open' in top ? top.at > now : top.at >= now) break;
      this.deadlines.pop();
      if (!('open' in top)) {
        const src = top.source === null ? '' : sourceOf(top.source);
        this.attempts.remove(top);
        out.push({ event: 'timeout', at: top.at, door: top.door.name, src, stage: top.stage });
        this.release(top);
      } else {
        this.open.delete(openKey(top.open.door, top.open.src));
        out.push({ event: 'close', at: top.at, door: top.open.door, src: top.open.src });
      }
    }
    return out;
  }

  /** Whether a door may start a new attempt with this knock: not if it is not the door's, nor if it came too late. */
  private freshness(
    d: DoorState, ev: KnockEvent, at: number, arrivedAt: number, consumed: ReadonlySet<DoorState>,
  ): 'fresh' | 'stale' | 'not' {
    if (consumed.has(d) || !d.addressed(ev, this.opts.isLocal)) return 'not';
    return arrivedAt - at > d.door.seqTimeoutMs ? 'stale' : 'fresh';
  }

  /**
   * A time-based door's unused sequences of the steps around `at` that start
   * with `key`: the door's own list unless some are used (a flood allocates nothing here).
   */
  private startersOf(d: TimedDoorState, key: number, at: number): readonly Starter[] {
    const list = d.startersAround(timeStep(at - this.lead, d.timed.stepMs), key);
    return list.some((s) => this.isUsed(s)) ? list.filter((s) => !this.isUsed(s)) : list;
  }

  private isUsed(s: Starter): boolean {
    return this.used.get(s.holder.usedKey)?.has(s.step) === true;
  }

  /**
   * Whether `key` is the next knock of some of a time-based attempt's
   * candidates; they are then the only ones kept. A bound door's are derived
   * for the source first (at its second knock).
   */
  private narrow(a: Attempt, key: number, src: string): boolean {
    let cands = a.cands ?? NO_STARTERS;
    if (cands[0]?.bound === true) {
      cands = resolveBound(cands, src);
      a.cands = cands;
    }
    const next = cands.filter((c) => c.keys[a.stage] === key);
    if (next.length === 0) return false;
    a.cands = next;
    a.keys = next[0]!.keys;
    return true;
  }

  /** A first knock: a one-knock sequence completes at once, else an attempt starts. */
  private begin(
    d: DoorState, keys: readonly number[], src: string, at: number, spt: number, out: Decision[],
    cands?: readonly Starter[],
  ): void {
    if (keys.length === 1 && cands?.[0]?.bound !== true) {
      this.complete(d, src, at, out, cands?.[0]);
      return;
    }
    const timeout = at + d.door.seqTimeoutMs;
    let a = this.spare.pop();
    if (a !== undefined) {
      a.door = d;
      a.keys = keys;
      a.cands = cands;
      a.stage = 1;
      a.lastSpt = spt;
      a.at = timeout;
    } else {
      a = { door: d, keys, cands, stage: 1, lastSpt: spt, at: timeout, source: null, sibling: null };
    }
    this.attempts.add(src, a);
    this.deadlines.push(a);
  }

  /** When tick() next has something to decide, or null. */
  nextDeadline(): number | null {
    for (;;) {
      const top = this.deadlines.peek();
      if (top === undefined) return null;
      if (this.live(top)) return top.at;
      this.release(this.deadlines.pop()!);
    }
  }

  /**
   * A door that is open from before (the daemon's persisted state after a
   * restart): a re-knock extends it instead of opening it again.
   */
  restoreOpen(door: string, src: string, closeAt: number): void {
    // A door of this config that closes nothing for src keeps no open state (see DoorState.closes).
    if (this.doors.find((d) => d.name === door)?.closes(src) === false) return;
    this.setOpen(door, src, closeAt);
  }

  /**
   * Time steps of a time-based door used before (the daemon's persisted state
   * after a restart): their sequences open nothing again.
   */
  restoreUsed(door: string, steps: readonly number[], user?: string): void {
    for (const step of steps) this.usedSet(usedKey(door, user ?? null)).add(step);
  }

  /** Used time steps by door (and user, for a door with Sequence_Secret_Dir), for tests and status. */
  usedSteps(): UsedSteps[] {
    return [...this.used].map(([key, steps]) => ({ ...splitUsedKey(key), steps: [...steps].sort((a, b) => a - b) }));
  }

  /**
   * A new config (SIGHUP). Attempts of doors whose knocking rules did not
   * change are kept; open doors stay open until their close.
   */
  replaceDoors(doors: readonly Door[]): void {
    const old = new Map(this.doors.map((d) => [d.name, d]));
    this.doors = doors.map((door) => {
      const prev = old.get(door.name);
      const next = door.kind === 'timed' ? new TimedDoorState(door) : new DoorState(door);
      if (prev !== undefined && sameKnocking(prev.door, door)) {
        while (next.oneTimeIndex < prev.oneTimeIndex) next.advanceOneTime();
      }
      return next;
    });
    this.index = new DoorIndex(this.doors);
    const kept = new Map(this.doors.map((d) => [d.name, d]));
    for (const a of this.attempts.all()) {
      const d = kept.get(a.door.name);
      if (d === undefined || !sameKnocking(d.door, a.door.door) || d.oneTimeIndex !== a.door.oneTimeIndex) {
        this.attempts.remove(a);
      } else {
        a.door = d;
        if (a.cands === undefined) a.keys = d.keys;
      }
    }
  }

  /** Doors open now, for status and persistence. */
  openDoors(): { door: string; src: string; closeAt: number }[] {
    return [...this.open.values()].map((o) => ({ ...o }));
  }

  stats(): EngineStats {
    return {
      sources: this.attempts.sources, attempts: this.attempts.count, open: this.open.size,
      evictions: this.attempts.evictions, stale: this.stale,
    };
  }

  /**
   * knockd's capture filter: the step is in some door (or a time-based door's range), and the packet is addressed
   * to that door.
   */
  private visible(ev: KnockEvent, key: number): boolean {
    for (const d of this.index.containing(key)) {
      if (d.addressed(ev, this.opts.isLocal)) return true;
    }
    return this.index.covering(key).some((d) => d.addressed(ev, this.opts.isLocal));
  }

  /** A completed sequence; `timed`: which of a time-based door's it was. */
  private complete(d: DoorState, src: string, at: number, out: Decision[], timed?: Starter): void {
    if (timed !== undefined && !this.useStep(d, timed, at)) return;
    const step = timed?.step;
    const user = timed?.holder.user ?? null;
    const closeAt = at + d.door.cmdTimeoutMs;
    // A door without a stop command keeps no open state: every completed sequence runs its start (knockd).
    const closes = d.closes(src);
    // A door open for this source already is extended; a one-time line is used up either way.
    const event = closes && this.open.has(openKey(d.name, src)) ? 'extend' : 'open';
    const line = d.oneTimeLine;
    out.push({
      event,
      at,
      door: d.name,
      src,
      ...(line === undefined ? {} : { oneTimeLine: line }),
      ...(step === undefined ? {} : { step }),
      ...(user === null ? {} : { user }),
    });
    if (closes) this.setOpen(d.name, src, closeAt);
    if (d.door.kind !== 'oneTime') return;
    // The used sequence stops working at once, for every source.
    for (const a of this.attempts.all()) if (a.door === d) this.attempts.remove(a);
    if (!d.advanceOneTime()) out.push({ event: 'disable', at, door: d.name, src });
    this.index = new DoorIndex(this.doors);
  }

  /**
   * A time-based sequence opens at most once (per user), for any source, and
   * only while its step is within the skew of the knock's time (as the
   * executor checks): a replay or an attempt that outlived its step opens
   * nothing. Marks it used.
   */
  private useStep(d: DoorState, { step, holder }: Starter, at: number): boolean {
    const { stepMs } = holder.timed;
    const wall = at - this.lead;
    const now = timeStep(wall, stepMs);
    const user = holder.user;
    const key = holder.usedKey;
    if (stepRefusal(step, this.used.get(key) ?? NO_STEPS, stepMs, wall) !== null) return false;
    const used = this.usedSet(key);
    used.add(step);
    // Steps too old to be accepted need no memory.
    for (const s of used) if (s < now - STEP_SKEW) used.delete(s);
    for (const a of this.attempts.all()) {
      if (a.door !== d || a.cands === undefined) continue;
      const left = a.cands.filter((c) => c.step !== step || c.holder.user !== user);
      if (left.length === 0) this.attempts.remove(a);
      else if (left.length < a.cands.length) {
        a.cands = left;
        a.keys = left[0]!.keys;
      }
    }
    return true;
  }

  private usedSet(key: string): Set<number> {
    let set = this.used.get(key);
    if (set === undefined) this.used.set(key, (set = new Set()));
    return set;
  }

  private setOpen(door: string, src: string, closeAt: number): void {
    const o: OpenDoor = { door, src: ownCopy(src), closeAt };
    this.open.set(openKey(door, o.src), o);
    this.deadlines.push({ at: closeAt, open: o });
  }

  private live(d: Deadline): boolean {
    if ('open' in d) return this.open.get(openKey(d.open.door, d.open.src)) === d.open;
    return d.source !== null;
  }

  /** Drops deadlines made stale by restarts, evictions and extends, so memory follows live state. */
  private compact(): void {
    if (this.deadlines.size > 1024 && this.deadlines.size > 2 * (this.attempts.count + this.open.size)) {
      this.deadlines.filter((d) => this.live(d), (d) => this.release(d));
    }
  }

  /**
   * A deadline the heap let go of. An attempt is kept for reuse: nothing else
   * refers to it once it has ended and left the heap (the table let go of it
   * when it ended, and decisions copy what they need).
   */
  private release(d: Deadline): void {
    if ('open' in d || this.spare.length >= this.attempts.maxSources) return;
    // A spare lets go of its candidates (a time-based door's sequences); it keeps only its last keys.
    d.cands = undefined;
    this.spare.push(d);
  }
}

const NO_STEPS: ReadonlySet<number> = new Set();
const NO_STARTERS: readonly Starter[] = [];
const NOTHING_ADVANCED: Advanced = { consumed: new Set(), stale: false };

function openKey(door: string, src: string): string {
  return `${door}\u0000${src}`;
}
