// The messages between the unprivileged reader (sources -> parse -> engine)
// and the privileged executor (actions). The executor trusts nothing it
// receives: every request is checked against its own copy of the config.

import { isUserName, MAX_SEQUENCE_LENGTH } from '../config/index.js';
import { canonicalAddress } from '../net.js';
import type { Config, Decision } from '../types.js';

/** What the executor tells the reader at start and on every reload. */
export interface ReaderSetup {
  config: Config;
  /** Sources to read (the command line's, else the config's, else the default). */
  sources: string[];
  /** A directory the reader may write (its source positions). */
  stateDir: string;
  /** Open doors from before a restart, so that a re-knock extends them. */
  open: { door: string; src: string; closeAt: number }[];
  /** Time steps whose sequences opened time-based doors, so that a replay after a restart opens nothing. */
  used: { door: string; user?: string; steps: number[] }[];
  /** /dev/kmsg opened by the privileged parent, as this fd in the reader. */
  kmsgFd: number | null;
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

/** Executor -> reader. */
export type ExecutorMessage =
  | { type: 'setup'; setup: ReaderSetup }
  | { type: 'reload'; config: Config };

const EVENTS = new Set(['stage', 'open', 'extend', 'timeout', 'close', 'disable']);

const isCount = (v: unknown, max: number) => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= max;

/**
 * A decision from the reader, re-validated: a known event, a door of the
 * current config, a canonical address, finite numbers. Null when anything is off.
 */
export function validDecision(m: unknown, config: Config): Decision | null {
  if (typeof m !== 'object' || m === null) return null;
  const d = m as Record<string, unknown>;
  if (typeof d.event !== 'string' || !EVENTS.has(d.event)) return null;
  if (typeof d.door !== 'string' || !config.doors.some((door) => door.name === d.door)) return null;
  if (typeof d.src !== 'string' || canonicalAddress(d.src) !== d.src) return null;
  if (typeof d.at !== 'number' || !Number.isFinite(d.at)) return null;
  if (d.stage !== undefined && !isCount(d.stage, MAX_SEQUENCE_LENGTH)) return null;
  if (d.oneTimeLine !== undefined && !isCount(d.oneTimeLine, 2 ** 31)) return null;
  if (d.step !== undefined && !isCount(d.step, Number.MAX_SAFE_INTEGER)) return null;
  // Whether the user still has a secret is the executor's check; here only that the name is one (it is logged).
  if (d.user !== undefined && (typeof d.user !== 'string' || !isUserName(d.user))) return null;
  const out: Decision = { event: d.event as Decision['event'], at: d.at, door: d.door, src: d.src };
  if (d.stage !== undefined) out.stage = d.stage as number;
  if (d.oneTimeLine !== undefined) out.oneTimeLine = d.oneTimeLine as number;
  if (d.step !== undefined) out.step = d.step as number;
  if (d.user !== undefined) out.user = d.user as string;
  return out;
}
