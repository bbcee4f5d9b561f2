// The domain types every module shares. Values of these types are already
// validated: they are built only at the edges (parse/, config/).

export type Proto = 'tcp' | 'udp';

/** TCP flag words as the kernel's LOG target prints them. */
export type TcpFlagWord = 'CWR' | 'ECE' | 'URG' | 'ACK' | 'PSH' | 'RST' | 'SYN' | 'FIN';

/**
 * One firewall log record that may be a knock. The field names and order are
 * the JSON contract of `knocklog parse` (see README).
 */
export interface KnockEvent {
  /** UTC ISO-8601 of the line's absolute time stamp, or null when it carries none. */
  readonly time: string | null;
  /** The kernel's seconds-since-boot stamp, or null. */
  readonly uptime: number | null;
  readonly host: string | null;
  readonly prefix: string;
  /** Input interface (`IN=`), '' when empty. */
  readonly in: string;
  /** Canonical address (dotted quad, or compressed lowercase IPv6 as inet_ntop prints it). */
  readonly src: string;
  readonly dst: string;
  readonly proto: Proto;
  readonly spt: number;
  readonly dpt: number;
  /** TCP flag words in the order logged; [] for UDP. */
  readonly flags: readonly TcpFlagWord[];
}

export interface SequenceStep {
  readonly proto: Proto;
  readonly port: number;
}

/** knockd's TCPFlags names (lowercase in knockd.conf). */
export type TcpFlagName = 'fin' | 'syn' | 'rst' | 'psh' | 'ack' | 'urg';

export interface TcpFlagRule {
  readonly flag: TcpFlagName;
  /** `!syn`: the flag must be absent. */
  readonly negated: boolean;
}

/** One line of a one_time_sequences file that is not used yet. */
export interface OneTimeEntry {
  /** 1-based line number in the file. */
  readonly line: number;
  readonly sequence: readonly SequenceStep[];
}

export interface OneTimeSequences {
  readonly path: string;
  /** Unused sequences in file order; the first is the door's current sequence (none: the door is disabled). */
  readonly entries: readonly OneTimeEntry[];
}

/**
 * A time-based door's settings (knocklog's Sequence_Secret_File): its sequence
 * changes every step and is derived from the secret (src/totp/).
 */
export interface TimedSequence {
  /** The shared secret's bytes in hex (the config crosses to the reader process as JSON). */
  readonly secretHex: string;
  /** Where the secret comes from, for messages; never the secret itself. */
  readonly secretFrom: string;
  /** Knocks in a sequence. */
  readonly length: number;
  /** Milliseconds a sequence is current. */
  readonly stepMs: number;
  readonly proto: Proto;
  /** The port range the sequences are drawn from, inclusive. */
  readonly low: number;
  readonly high: number;
  /** Ports never drawn, ascending: Sequence_Exclude and other doors' static ports of this protocol. */
  readonly exclude: readonly number[];
  /**
   * Sequence_Secret_Dir: one secret per user, by user name (secretHex is then
   * unused and ''); absent for a door with one shared secret.
   */
  readonly users?: readonly TimedUser[];
  /** Sequence_Bind = address: all ports but the first depend on the knocking address too. */
  readonly bind?: 'address';
}

/** One user of a time-based door with Sequence_Secret_Dir. */
export interface TimedUser {
  /** The secret file's name. */
  readonly name: string;
  readonly secretHex: string;
}

/** What every door has, whatever its sequence is. */
export interface DoorBase {
  readonly name: string;
  /** Where the door's section starts, for messages: `PATH:LINE`. */
  readonly where: string;
  /** Milliseconds allowed from the first knock to the last. */
  readonly seqTimeoutMs: number;
  /** Empty: any flags. Several TCPFlags lines add up. */
  readonly tcpFlags: readonly TcpFlagRule[];
  readonly startCommand: string | null;
  /** Resolved: an explicit Start_Command_6, else startCommand. '' (explicitly empty) runs nothing. */
  readonly startCommand6: string | null;
  readonly stopCommand: string | null;
  readonly stopCommand6: string | null;
  /** Milliseconds after start_command finished before stop_command runs. */
  readonly cmdTimeoutMs: number;
  /** Canonical destination address this door listens on, or null for the host's own addresses. */
  readonly target: string | null;
}

/** A door with a Sequence: the same knocks open it every time. */
export interface FixedDoor extends DoorBase {
  readonly kind: 'fixed';
  readonly sequence: readonly SequenceStep[];
}

/** A door with One_Time_Sequences: each sequence of the file opens it once. */
export interface OneTimeDoor extends DoorBase {
  readonly kind: 'oneTime';
  readonly oneTime: OneTimeSequences;
}

/** A door with Sequence_Secret_File or Sequence_Secret_Dir: its sequence changes with time. */
export interface TimedDoor extends DoorBase {
  readonly kind: 'timed';
  readonly timed: TimedSequence;
}

export type Door = FixedDoor | OneTimeDoor | TimedDoor;

export interface Options {
  useSyslog: boolean;
  logFile: string | null;
  pidFile: string;
  /** Only log lines with this `IN=` count; null: any interface. */
  interface: string | null;
  // knocklog's own settings (no knockd key); the command line overrides them.
  /** Log sources: `file:PATH`, `journal`, `kmsg`, `stdin`. Empty: the default. */
  sources: readonly string[];
  /** The firewall log prefix that opens the kernel message. */
  prefix: string;
  stateDir: string;
  /** Cap on sources with a knock attempt in progress; the oldest is evicted first. */
  maxSources: number;
  /** The unprivileged user the reading/parsing process runs as. */
  user: string;
}

/**
 * A door open for a source, and when it closes (ms since the epoch): the engine's, the executor's and the reader's
 * view.
 */
export interface OpenDoor {
  readonly door: string;
  readonly src: string;
  readonly closeAt: number;
  /** Who opened it last: a user of a door with Sequence_Secret_Dir. */
  readonly user?: string;
}

/** Options given on the command line, which win over the config's; an absent one may come as undefined. */
export type OptionOverrides = { [K in keyof Options]?: Options[K] | undefined };

export interface Config {
  readonly path: string;
  readonly options: Readonly<Options>;
  readonly doors: readonly Door[];
}

/** Every kind of decision, defined once: the reader's messages are checked against this list. */
export const DECISION_EVENTS = ['stage', 'open', 'extend', 'timeout', 'close', 'disable'] as const;
export type DecisionEvent = (typeof DECISION_EVENTS)[number];

interface DecisionBase {
  /** Clock value (ms) the decision belongs to. */
  readonly at: number;
  readonly door: string;
  readonly src: string;
}

/** A source completed a door's sequence: open it (or, already open for it, extend it). */
export interface OpenDecision extends DecisionBase {
  readonly event: 'open' | 'extend';
  /** A one-time door's one_time_sequences line now used (to be marked). */
  readonly oneTimeLine?: number;
  /** A time-based door's time step whose sequence was knocked (used up now). */
  readonly step?: number;
  /** A door with Sequence_Secret_Dir: the user whose sequence was knocked. */
  readonly user?: string;
}

/** What the engine decided; the actions layer turns these into commands. */
export type Decision =
  /** `stage`: the stage reached (1-based); `timeout`: the stage the attempt had reached. */
  | (DecisionBase & { readonly event: 'stage' | 'timeout'; readonly stage: number })
  | OpenDecision
  /** `close`: cmd_timeout after an open (replay prints it; the executor closes on its own timer). */
  | (DecisionBase & { readonly event: 'close' | 'disable' });
