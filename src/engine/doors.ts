// Which knocks a door sees: knockd's capture filter, per door (knockd-semantics §2).

import { isIPv6, isLoopback } from '../net.js';
import { deriveBoundSequence, deriveSequence, firstPort, STEP_SKEW, usedKey } from '../totp/index.js';
import type {
  Door, KnockEvent, Proto, SequenceStep, TcpFlagName, TcpFlagWord, TimedDoor, TimedSequence,
} from '../types.js';

/** A (protocol, port) as one number, for map lookups. */
export function stepKey(proto: Proto, port: number): number {
  return proto === 'udp' ? 65536 + port : port;
}

const FLAG_WORD: Record<TcpFlagName, TcpFlagWord> = {
  fin: 'FIN', syn: 'SYN', rst: 'RST', psh: 'PSH', ack: 'ACK', urg: 'URG',
};

/** Whose secret a time-based attempt follows: a user of Sequence_Secret_Dir, or (user null) the door's one secret. */
export interface Holder {
  readonly user: string | null;
  readonly secretHex: string;
  /** The door's and user's key of used steps (see usedKey), made once: a flood must not build one a packet. */
  readonly usedKey: string;
  /** The door's time-based settings the secret is used with. */
  readonly timed: TimedSequence;
}

/** A holder's sequence of one step: the whole of it, or (bound, until the second knock) only its first port. */
export interface Starter {
  readonly holder: Holder;
  readonly step: number;
  readonly keys: readonly number[];
  /** The keys after the first depend on the source: see resolveBound. */
  readonly bound: boolean;
}

/** Steps whose starters a door keeps: the current one, its neighbours, a replayed log's. */
const STEP_TABLES = 8;

/** A door as the engine runs it: the config's door plus where its one-time sequences stand. */
export class DoorState {
  /** Index of the current entry in a one-time door's entries. */
  oneTimeIndex = 0;
  /** The sequence being knocked: for a one-time door, the current entry's; [] when disabled or time-based. */
  readonly keys: number[];
  private readonly loopbackTarget: boolean;

  constructor(readonly door: Door) {
    this.keys = keysOf(door.kind === 'fixed' ? door.sequence
      : door.kind === 'oneTime' ? (door.oneTime.entries[0]?.sequence ?? []) : []);
    this.loopbackTarget = door.target !== null && isLoopback(door.target);
  }

  /**
   * Whether an open for `src` leaves something to close: knockd runs a stop
   * command only after a start command, so both must be set for the family.
   * A door without one keeps no open state: each completion opens again, as
   * in knockd (its sample config opens with one door and closes with another).
   */
  closes(src: string): boolean {
    const v6 = isIPv6(src);
    const start = v6 ? this.door.startCommand6 : this.door.startCommand;
    const stop = v6 ? this.door.stopCommand6 : this.door.stopCommand;
    return start !== null && start !== '' && stop !== null && stop !== '';
  }

  get name(): string {
    return this.door.name;
  }

  /** The one_time_sequences line of the current sequence, if this is a one-time door. */
  get oneTimeLine(): number | undefined {
    return this.door.kind === 'oneTime' ? this.door.oneTime.entries[this.oneTimeIndex]?.line : undefined;
  }

  /** Moves a one-time door to its next sequence; false when none is left (the door is then disabled). */
  advanceOneTime(): boolean {
    const entries = this.door.kind === 'oneTime' ? this.door.oneTime.entries : [];
    this.oneTimeIndex++;
    const next = entries[this.oneTimeIndex];
    this.keys.length = 0;
    this.keys.push(...keysOf(next?.sequence ?? []));
    return next !== undefined;
  }

  /**
   * The packet is addressed to this door: to its Target (or a local address), with flags its TCPFlags allow,
   * and from a loopback source only if the Target is loopback too.
   */
  addressed(ev: KnockEvent, isLocal: (addr: string) => boolean): boolean {
    if (this.door.target !== null ? ev.dst !== this.door.target : !isLocal(ev.dst)) return false;
    if (isLoopback(ev.src) && !this.loopbackTarget) return false;
    if (ev.proto !== 'tcp') return true;
    for (const rule of this.door.tcpFlags) {
      if (ev.flags.includes(FLAG_WORD[rule.flag]) === rule.negated) return false;
    }
    return true;
  }
}

/** A time-based door as the engine runs it: its sequences derived per time step, and remembered. */
export class TimedDoorState extends DoorState {
  readonly timed: TimedSequence;
  /**
   * The starters of recent time steps by first key, each derived once per
   * step (a flood must not cost an HMAC a packet).
   */
  private readonly stepTables = new Map<number, Map<number, Starter[]>>();
  /** The same for the steps accepted around a current step (STEP_SKEW each way), by that step. */
  private readonly windows = new Map<number, Map<number, Starter[]>>();
  private readonly holders: readonly Holder[];

  constructor(door: TimedDoor) {
    super(door);
    const t = door.timed;
    this.timed = t;
    const holder = (user: string | null, secretHex: string) => ({
      user,
      secretHex,
      usedKey: usedKey(door.name, user),
      timed: t,
    });
    this.holders = t.users?.map((u) => holder(u.name, u.secretHex)) ?? [holder(null, t.secretHex)];
  }

  /**
   * The sequences of the steps accepted at current step `now` that start
   * with `key`, oldest step first: one map lookup once `now` is known.
   */
  startersAround(now: number, key: number): readonly Starter[] {
    let table = this.windows.get(now);
    if (table === undefined) {
      table = new Map();
      // Time steps count from the epoch: a knock stamped before 1970 (a broken clock) has no sequence.
      for (let step = Math.max(0, now - STEP_SKEW); step <= now + STEP_SKEW; step++) {
        for (const [k, list] of this.stepTableOf(step)) for (const s of list) push(table, k, s);
      }
      remember(this.windows, now, table);
    }
    return table.get(key) ?? NO_STARTERS;
  }

  private stepTableOf(step: number): Map<number, Starter[]> {
    let table = this.stepTables.get(step);
    if (table === undefined) remember(this.stepTables, step, (table = this.stepTable(step)));
    return table;
  }

  /** Every holder's sequence of `step` (a bound door's: its first port only), by first key. */
  private stepTable(step: number): Map<number, Starter[]> {
    const t = this.timed;
    const table = new Map<number, Starter[]>();
    for (const holder of this.holders) {
      const keys = t.bind === undefined
        ? keysOf(deriveSequence(t, step, holder.secretHex))
        : [stepKey(t.proto, firstPort(t, step, holder.secretHex))];
      push(table, keys[0]!, { holder, step, keys, bound: t.bind !== undefined });
    }
    return table;
  }

  /** Sees every port of its range: which one a knock needs changes with time. */
  covers(key: number): boolean {
    const t = this.timed;
    return key >= stepKey(t.proto, t.low) && key <= stepKey(t.proto, t.high);
  }
}

/** Bound starters' whole sequences for knocks from `src`: derived when `src` makes its second knock. */
export function resolveBound(starters: readonly Starter[], src: string): Starter[] {
  return starters.map((s) => ({
    holder: s.holder, step: s.step, bound: false,
    keys: keysOf(deriveBoundSequence(s.holder.timed, s.step, s.holder.secretHex, src)),
  }));
}

function keysOf(sequence: readonly SequenceStep[]): number[] {
  return sequence.map((s) => stepKey(s.proto, s.port));
}

/** Doors by the steps they contain and by their first step; time-based doors by their port range. */
export class DoorIndex {
  private readonly byStep = new Map<number, DoorState[]>();
  private readonly byFirst = new Map<number, DoorState[]>();
  private readonly timed: TimedDoorState[];
  /** covering()'s answers, made once per key: a flood must not filter the doors a packet. */
  private readonly byRange = new Map<number, readonly TimedDoorState[]>();

  constructor(readonly doors: readonly DoorState[]) {
    this.timed = doors.filter((d) => d instanceof TimedDoorState);
    for (const d of doors) {
      for (const key of new Set(d.keys)) push(this.byStep, key, d);
      if (d.keys.length > 0) push(this.byFirst, d.keys[0]!, d);
    }
  }

  /** Doors whose sequence contains this step. */
  containing(key: number): readonly DoorState[] {
    return this.byStep.get(key) ?? NONE;
  }

  /** Time-based doors whose port range holds this step, in config order. */
  covering(key: number): readonly TimedDoorState[] {
    if (this.timed.length === 0) return NO_TIMED;
    let doors = this.byRange.get(key);
    if (doors === undefined) {
      const found = this.timed.filter((d) => d.covers(key));
      doors = found.length === 0 ? NO_TIMED : found;
      this.byRange.set(key, doors);
    }
    return doors;
  }

  /** Doors whose sequence starts with this step, in config order. */
  startingWith(key: number): readonly DoorState[] {
    return this.byFirst.get(key) ?? NONE;
  }
}

/** Keeps a few tables (the current step, its neighbours, a replayed log's): the oldest goes first. */
function remember<T>(map: Map<number, T>, key: number, value: T): void {
  if (map.size >= STEP_TABLES) map.delete(map.keys().next().value!);
  map.set(key, value);
}

const NONE: readonly DoorState[] = [];
const NO_TIMED: readonly TimedDoorState[] = [];
const NO_STARTERS: readonly Starter[] = [];

function push<T>(map: Map<number, T[]>, key: number, d: T): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [d]);
  else list.push(d);
}

/** Two doors behave alike (a reload keeps attempts of a door whose knocking rules did not change). */
export function sameKnocking(a: Door, b: Door): boolean {
  return JSON.stringify(knocking(a)) === JSON.stringify(knocking(b));
}

function knocking(d: Door): unknown[] {
  const how = d.kind === 'fixed' ? d.sequence : d.kind === 'oneTime' ? d.oneTime : d.timed;
  return [d.kind, how, d.seqTimeoutMs, d.tcpFlags, d.target];
}
