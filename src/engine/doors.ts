// Which knocks a door sees: knockd's capture filter, per door (knockd-semantics §2).

import { isIPv6, isLoopback } from '../net.js';
import { deriveBoundSequence, deriveSequence, firstPort } from '../totp/index.js';
import type { Door, KnockEvent, Proto, SequenceStep, TcpFlagName, TcpFlagWord } from '../types.js';

/** A (protocol, port) as one number, for map lookups. */
export function stepKey(proto: Proto, port: number): number {
  return proto === 'udp' ? 65536 + port : port;
}

const FLAG_WORD: Record<TcpFlagName, TcpFlagWord> = {
  fin: 'FIN', syn: 'SYN', rst: 'RST', psh: 'PSH', ack: 'ACK', urg: 'URG',
};

/** Whose secret a time-based attempt follows: a user of Sequence_Secret_Dir, or (user null) the door's one secret. */
export interface Holder {
  user: string | null;
  secretHex: string;
}

/** A sequence that a knock on its first port may start: the whole of it, or (bound) only its first port. */
export interface Starter {
  holder: Holder;
  keys: readonly number[];
  /** The keys after the first depend on the source: see DoorState.boundKeys. */
  bound: boolean;
}

/** Steps whose starters a door keeps: the current one, its neighbours, a replayed log's. */
const STEP_TABLES = 8;

/** A door as the engine runs it: the config's door plus where its one-time sequences stand. */
export class DoorState {
  /** The sequence being knocked: for a one-time door, the current entry's; [] when disabled. */
  sequence: SequenceStep[];
  /** Index of the current entry in door.oneTime.entries. */
  oneTimeIndex = 0;
  readonly keys: number[];
  /**
   * A time-based door's starters of recent time steps by first key, each
   * derived once per step (a flood must not cost an HMAC a packet).
   */
  private readonly stepTables = new Map<number, Map<number, Starter[]>>();
  private readonly holders: readonly Holder[];

  private readonly loopbackTarget: boolean;

  constructor(readonly door: Door) {
    this.sequence = door.sequence;
    this.keys = this.sequence.map((s) => stepKey(s.proto, s.port));
    this.loopbackTarget = door.target !== null && isLoopback(door.target);
    const t = door.timed;
    this.holders = t === undefined ? []
      : t.users?.map((u) => ({ user: u.name, secretHex: u.secretHex })) ?? [{ user: null, secretHex: t.secretHex }];
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

  /** A time-based door's sequences of time step `step` that start with `key`: one map lookup once the step is known. */
  startersAt(step: number, key: number): readonly Starter[] {
    let table = this.stepTables.get(step);
    if (table === undefined) {
      table = this.stepTable(step);
      if (this.stepTables.size >= STEP_TABLES) this.stepTables.delete(this.stepTables.keys().next().value!);
      this.stepTables.set(step, table);
    }
    return table.get(key) ?? NO_STARTERS;
  }

  /** Every holder's sequence of `step` (a bound door's: its first port only), by first key. */
  private stepTable(step: number): Map<number, Starter[]> {
    const t = this.door.timed!;
    const table = new Map<number, Starter[]>();
    for (const holder of this.holders) {
      const keys = t.bind === undefined
        ? deriveSequence(t, step, holder.secretHex).map((s) => stepKey(s.proto, s.port))
        : [stepKey(t.proto, firstPort(t, step, holder.secretHex))];
      push(table, keys[0]!, { holder, keys, bound: t.bind !== undefined });
    }
    return table;
  }

  /** A bound door's whole sequence of `step` for a knock from `src`: derived when `src` makes its second knock. */
  boundKeys(holder: Holder, step: number, src: string): readonly number[] {
    return deriveBoundSequence(this.door.timed!, step, holder.secretHex, src).map((s) => stepKey(s.proto, s.port));
  }

  /** A time-based door sees every port of its range: which one a knock needs changes with time. */
  covers(key: number): boolean {
    const t = this.door.timed;
    return t !== undefined && key >= stepKey(t.proto, t.low) && key <= stepKey(t.proto, t.high);
  }

  /** The one_time_sequences line of the current sequence, if this is a one-time door. */
  get oneTimeLine(): number | undefined {
    return this.door.oneTime?.entries[this.oneTimeIndex]?.line;
  }

  /** Moves a one-time door to its next sequence; false when none is left (the door is then disabled). */
  advanceOneTime(): boolean {
    const entries = this.door.oneTime?.entries ?? [];
    this.oneTimeIndex++;
    const next = entries[this.oneTimeIndex];
    this.sequence = next?.sequence ?? [];
    this.keys.length = 0;
    for (const s of this.sequence) this.keys.push(stepKey(s.proto, s.port));
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

/** Doors by the steps they contain and by their first step; time-based doors by their port range. */
export class DoorIndex {
  private readonly byStep = new Map<number, DoorState[]>();
  private readonly byFirst = new Map<number, DoorState[]>();
  private readonly timed: DoorState[];

  constructor(readonly doors: readonly DoorState[]) {
    this.timed = doors.filter((d) => d.door.timed !== undefined);
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
  covering(key: number): readonly DoorState[] {
    return this.timed.length === 0 ? NONE : this.timed.filter((d) => d.covers(key));
  }

  /** Doors whose sequence starts with this step, in config order. */
  startingWith(key: number): readonly DoorState[] {
    return this.byFirst.get(key) ?? NONE;
  }
}

const NONE: readonly DoorState[] = [];
const NO_STARTERS: readonly Starter[] = [];

function push<T>(map: Map<number, T[]>, key: number, d: T): void {
  const list = map.get(key);
  if (list === undefined) map.set(key, [d]);
  else list.push(d);
}

/** Two doors behave alike (a reload keeps attempts of a door whose knocking rules did not change). */
export function sameKnocking(a: Door, b: Door): boolean {
  return JSON.stringify([a.sequence, a.oneTime, a.timed, a.seqTimeoutMs, a.tcpFlags, a.target])
    === JSON.stringify([b.sequence, b.oneTime, b.timed, b.seqTimeoutMs, b.tcpFlags, b.target]);
}
