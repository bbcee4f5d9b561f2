// The persisted list of open doors, so that a restart or a crash never leaves a
// firewall rule open. Each record keeps the stop command exactly as it will
// run: after a config edit it still undoes what the start did. That text is
// trusted only because the file is (src/state/trust.ts: written by no one but
// knocklog), and a restored record is checked against the config before it runs
// (executor.ts). docs/architecture.md, "State files", has the reasons.

import { canonicalAddress } from '../net.js';
import type { OpenDoor } from '../types.js';
import { JsonStore } from '../state/store.js';

export const STATE_FILE = 'open-doors.json';

export interface OpenDoorRecord extends OpenDoor {
  /** Already expanded; null when nothing has to run at close. */
  stopCommand: string | null;
  /**
   * The start command had not finished with success when this was saved (it
   * is saved before the command runs): its rule may not exist, so the stop
   * runs once and is not retried. Absent in files of older versions: false.
   */
  pending?: boolean;
  /** The kernel's boot id when it was saved: a record from an earlier boot counts as pending. */
  boot?: string;
  /** closeAt on CLOCK_MONOTONIC (ms), valid in the boot `boot` names: a wall clock stepped back cannot delay it. */
  closeMono?: number;
  /** Who opened it last (a door with Sequence_Secret_Dir); absent otherwise and in files of older versions. */
  user?: string;
}

export interface LoadedState {
  open: OpenDoorRecord[];
  /** Set when the file was unreadable as state: why, and where it was moved. */
  corrupt: { reason: string; keptAs: string } | null;
}

function isRecord(v: unknown): v is OpenDoorRecord {
  if (typeof v !== 'object' || v === null) return false;
  const r = v as Record<string, unknown>;
  return (
    typeof r['door'] === 'string' &&
    typeof r['src'] === 'string' &&
    canonicalAddress(r['src']) === r['src'] &&
    typeof r['closeAt'] === 'number' &&
    Number.isFinite(r['closeAt']) &&
    (typeof r['stopCommand'] === 'string' || r['stopCommand'] === null) &&
    (r['pending'] === undefined || typeof r['pending'] === 'boolean') &&
    (r['user'] === undefined || typeof r['user'] === 'string') &&
    (r['boot'] === undefined || typeof r['boot'] === 'string') &&
    (r['closeMono'] === undefined || (typeof r['closeMono'] === 'number' && Number.isFinite(r['closeMono'])))
  );
}

export function stateStore(dir: string): JsonStore<OpenDoorRecord[]> {
  return new JsonStore(dir, STATE_FILE, 1, (body) => {
    if (!Array.isArray(body['open'])) return { problem: '"open" is not a list' };
    const bad = body['open'].findIndex((r) => !isRecord(r));
    if (bad !== -1) return { problem: `open[${bad}] lacks a door, canonical src, numeric closeAt or stopCommand` };
    return body['open'] as OpenDoorRecord[];
  });
}


/**
 * The state in `dir` without touching it (for `knocklog status`): the open
 * doors, or why the file is not a state file. A missing file is no open door.
 */
export async function peekState(dir: string): Promise<{ open: OpenDoorRecord[] } | { problem: string }> {
  try {
    const v = await stateStore(dir).peek();
    if (v === null) return { open: [] };
    return Array.isArray(v) ? { open: v } : v;
  } catch (e) {
    return { problem: (e as Error).message };
  }
}

/**
 * Reads the state in `dir`. A missing file is an empty state; a corrupt one is
 * moved aside and reported; one another user could have written throws.
 */
export async function loadState(dir: string, now: number = Date.now()): Promise<LoadedState> {
  const loaded = await stateStore(dir).load(now);
  return { open: loaded.value ?? [], corrupt: loaded.corrupt };
}

/** Replaces the state in `dir` atomically: a reader sees the old file or the new one, never a part. */
export async function saveState(dir: string, records: readonly OpenDoorRecord[]): Promise<void> {
  await stateStore(dir).save(() => ({ open: records }));
}
