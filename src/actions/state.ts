// The persisted list of open doors, so that a restart or a crash never leaves a
// firewall rule open: each entry keeps the stop command exactly as it will run.

import { readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../atomic.js';

export const STATE_FILE = 'open-doors.json';

export interface OpenDoorRecord {
  door: string;
  src: string;
  /** ms since the epoch. */
  closeAt: number;
  /** Already expanded; null when nothing has to run at close. */
  stopCommand: string | null;
}

interface StateFile {
  version: 1;
  open: OpenDoorRecord[];
}

export interface LoadedState {
  open: OpenDoorRecord[];
  /** Set when the file was unreadable as state: why, and where it was moved. */
  corrupt: { reason: string; keptAs: string } | null;
}

export function statePath(dir: string): string {
  return join(dir, STATE_FILE);
}

function isRecord(v: unknown): v is OpenDoorRecord {
  if (typeof v !== 'object' || v === null) return false;
  const r = v as Record<string, unknown>;
  return (
    typeof r.door === 'string' &&
    typeof r.src === 'string' &&
    typeof r.closeAt === 'number' &&
    Number.isFinite(r.closeAt) &&
    (typeof r.stopCommand === 'string' || r.stopCommand === null)
  );
}

/** Why `text` is not a state file, or null when it is one. */
function problemWith(text: string): string | null {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    return `not JSON: ${(e as Error).message}`;
  }
  if (typeof v !== 'object' || v === null) return 'not a JSON object';
  const s = v as Record<string, unknown>;
  if (s.version !== 1) return `unknown version ${JSON.stringify(s.version)} (expected 1)`;
  if (!Array.isArray(s.open)) return '"open" is not a list';
  const bad = s.open.findIndex((r) => !isRecord(r));
  if (bad !== -1) return `open[${bad}] lacks a door, src, numeric closeAt or stopCommand`;
  return null;
}

/**
 * The state in `dir` without touching it (for `knocklog status`): the open
 * doors, or why the file is not a state file. A missing file is no open door.
 */
export async function peekState(dir: string): Promise<{ open: OpenDoorRecord[] } | { problem: string }> {
  let text: string;
  try {
    text = await readFile(statePath(dir), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { open: [] };
    return { problem: (e as Error).message };
  }
  const problem = problemWith(text);
  return problem === null ? { open: (JSON.parse(text) as StateFile).open } : { problem };
}

/**
 * Reads the state in `dir`. A missing file is an empty state; a corrupt one is
 * moved aside (`open-doors.json.corrupt-TIMESTAMP`) and reported, never thrown.
 */
export async function loadState(dir: string, now: number = Date.now()): Promise<LoadedState> {
  const path = statePath(dir);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return { open: [], corrupt: null };
    throw e;
  }
  const reason = problemWith(text);
  if (reason === null) return { open: (JSON.parse(text) as StateFile).open, corrupt: null };
  const keptAs = `${path}.corrupt-${new Date(now).toISOString().replace(/[:.]/g, '-')}`;
  await rename(path, keptAs);
  return { open: [], corrupt: { reason, keptAs } };
}

/** Replaces the state in `dir` atomically: a reader sees the old file or the new one, never a part. */
export async function saveState(dir: string, records: readonly OpenDoorRecord[]): Promise<void> {
  const body: StateFile = { version: 1, open: [...records] };
  await writeFileAtomic(statePath(dir), `${JSON.stringify(body, null, 1)}\n`);
}
