// The time steps whose sequences have opened a time-based door, persisted, so
// that a sequence seen on the wire opens nothing again, not even after a restart.

import { readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { STEP_SKEW, stepRefusal, timeStep } from '../totp/index.js';
import { writeFileAtomic } from '../atomic.js';

export const USED_STEPS_FILE = 'used-steps.json';

interface UsedStepsFile {
  version: 1;
  used: Record<string, number[]>;
}

export interface UsedByDoor {
  door: string;
  steps: number[];
}

function parse(text: string): Map<string, Set<number>> | null {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    return null;
  }
  const f = v as Partial<UsedStepsFile> | null;
  if (typeof f !== 'object' || f === null || f.version !== 1 || typeof f.used !== 'object' || f.used === null) return null;
  const out = new Map<string, Set<number>>();
  for (const [door, steps] of Object.entries(f.used)) {
    if (!Array.isArray(steps) || !steps.every((s) => Number.isSafeInteger(s))) return null;
    out.set(door, new Set(steps));
  }
  return out;
}

export class UsedSteps {
  private used = new Map<string, Set<number>>();
  private saving: Promise<void> = Promise.resolve();

  /** `dir` null (a dry run): kept in memory only. */
  constructor(private readonly dir: string | null) {}

  get path(): string | null {
    return this.dir === null ? null : join(this.dir, USED_STEPS_FILE);
  }

  /**
   * Reads the file. A missing file is no used step; a corrupt one is moved
   * aside and the reason returned (a replay within the few steps it covered
   * would then open again, so it is worth a warning).
   */
  async load(now: number = Date.now()): Promise<string | null> {
    const path = this.path;
    if (path === null) return null;
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      return `cannot read ${path}: ${(e as Error).message}`;
    }
    const used = parse(text);
    if (used !== null) {
      this.used = used;
      return null;
    }
    const keptAs = `${path}.corrupt-${new Date(now).toISOString().replace(/[:.]/g, '-')}`;
    await rename(path, keptAs);
    return `${path} is not a used-steps file; kept it as ${keptAs}`;
  }

  list(): UsedByDoor[] {
    return [...this.used].map(([door, steps]) => ({ door, steps: [...steps].sort((a, b) => a - b) }));
  }

  refusal(door: string, step: number | undefined, stepMs: number, now: number): string | null {
    return stepRefusal(step, this.used.get(door) ?? new Set(), stepMs, now);
  }

  /** Marks a step used (steps too old to be accepted any more are forgotten) and writes the file. */
  async use(door: string, step: number, stepMs: number, now: number): Promise<void> {
    let steps = this.used.get(door);
    if (steps === undefined) this.used.set(door, (steps = new Set()));
    steps.add(step);
    const oldest = timeStep(now, stepMs) - STEP_SKEW;
    for (const s of steps) if (s < oldest) steps.delete(s);
    const path = this.path;
    if (path === null) return;
    // Writes one at a time, each with the set as it is then: a slow earlier write never lands last.
    const write = this.saving.catch(() => undefined).then(() => {
      const body: UsedStepsFile = { version: 1, used: Object.fromEntries(this.list().map((u) => [u.door, u.steps])) };
      return writeFileAtomic(path, `${JSON.stringify(body)}\n`);
    });
    this.saving = write;
    await write;
  }
}
