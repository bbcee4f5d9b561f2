// The messages between the unprivileged reader (sources -> parse -> engine)
// and the privileged executor (actions). The executor trusts nothing it
// receives: every request is checked against its own copy of the config.

import { isUserName, MAX_SEQUENCE_LENGTH } from '../config/index.js';
import { canonicalAddress } from '../net.js';
import { type Config, DECISION_EVENTS, type Decision, type DecisionEvent, type OpenDoor } from '../types.js';

/** What the executor tells the reader at start and on every reload. */
export interface ReaderSetup {
  config: Config;
  /** Sources to read (the command line's, else the config's, else the default). */
  sources: readonly string[];
  /** A directory the reader may write (its source positions). */
  stateDir: string;
  /** Open doors from before a restart, so that a re-knock extends them. */
  open: OpenDoor[];
  /** Time steps whose sequences opened time-based doors, so that a replay after a restart opens nothing. */
  used: { door: string; user?: string; steps: number[] }[];
  /** /dev/kmsg opened by the privileged parent, as this fd in the reader. */
  kmsgFd: number | null;
  /** `-v`: first knocks and their timeouts are sent one by one (logged at debug); else only counted, here. */
  verbose: boolean;
}

/** How often the reader says it is alive; the executor restarts one silent for READER_SILENT_MS. */
export const HEARTBEAT_MS = 1000;
export const READER_SILENT_MS = 5000;

/** Reader -> executor. */
export type ReaderMessage =
  /** In order; batched, since one IPC message per decision would cap a flood's throughput. */
  | { type: 'decisions'; decisions: Decision[] }
  | { type: 'log'; level: 'info' | 'warn' | 'error'; msg: string }
  | { type: 'alive' };

/** A reader's message as it arrives: decisions are still to be checked one by one (validDecision). */
export type UncheckedReaderMessage =
  | { type: 'decisions'; decisions: unknown[] }
  | { type: 'log'; level: 'info' | 'warn' | 'error'; msg: string }
  | { type: 'alive' };

/** The envelope of a message from the reader (untrusted: any value may arrive), or null. */
export function parseReaderMessage(m: unknown): UncheckedReaderMessage | null {
  if (typeof m !== 'object' || m === null) return null;
  const r = m as Record<string, unknown>;
  switch (r['type']) {
    case 'alive':
      return { type: 'alive' };
    case 'log': {
      const { level, msg } = r;
      if (typeof msg !== 'string') return null;
      return { type: 'log', level: level === 'error' || level === 'warn' ? level : 'info', msg };
    }
    case 'decisions':
      return Array.isArray(r['decisions']) ? { type: 'decisions', decisions: r['decisions'] as unknown[] } : null;
    default:
      return null;
  }
}

/** Executor -> reader. */
export type ExecutorMessage =
  | { type: 'setup'; setup: ReaderSetup }
  | { type: 'reload'; config: Config };

const isCount = (v: unknown, max: number): v is number =>
  typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= max;
const isEvent = (v: unknown): v is DecisionEvent => DECISION_EVENTS.some((e) => e === v);

/**
 * A decision from the reader (untrusted), parsed into a Decision: a known
 * event with exactly its fields, a door of the current config, a canonical
 * address, finite numbers. Null when anything is off.
 */
export function validDecision(m: unknown, config: Config): Decision | null {
  if (typeof m !== 'object' || m === null) return null;
  const d = m as Record<string, unknown>;
  const { event, door, src, at } = d;
  if (!isEvent(event)) return null;
  if (typeof door !== 'string' || !config.doors.some((x) => x.name === door)) return null;
  if (typeof src !== 'string' || canonicalAddress(src) !== src) return null;
  if (typeof at !== 'number' || !Number.isFinite(at)) return null;
  const base = { at, door, src };
  switch (event) {
    case 'stage':
    case 'timeout':
      return isCount(d['stage'], MAX_SEQUENCE_LENGTH) ? { ...base, event, stage: d['stage'] } : null;
    case 'open':
    case 'extend': {
      const { oneTimeLine, step, user } = d;
      if (oneTimeLine !== undefined && !isCount(oneTimeLine, 2 ** 31)) return null;
      if (step !== undefined && !isCount(step, Number.MAX_SAFE_INTEGER)) return null;
      // Whether the user still has a secret is the executor's check; here only that the name is one (it is logged).
      if (user !== undefined && (typeof user !== 'string' || !isUserName(user))) return null;
      return {
        ...base, event, ...(oneTimeLine === undefined ? {} : { oneTimeLine }), ...(step === undefined ? {} : { step }),
        ...(user === undefined ? {} : { user }),
      };
    }
    case 'close':
    case 'disable':
      return { ...base, event };
  }
}
