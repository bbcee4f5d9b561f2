// The time steps whose sequences have opened a time-based door, persisted, so
// that a sequence seen on the wire opens nothing again, not even after a restart.

import { stepRefusal } from '../totp/index.js';
import { JsonStore } from '../state/store.js';

export const USED_STEPS_FILE = 'used-steps.json';

/**
 * Used steps kept per door, the newest. They are not forgotten by the clock:
 * after the clock ran ahead and was stepped back, a step used before the
 * excursion would be accepted again. 4096 steps are 34 hours of 30 s steps
 * even if every one were used.
 */
const KEEP = 4096;

export interface UsedByDoor {
  door: string;
  steps: number[];
}

function store(dir: string): JsonStore<Map<string, Set<number>>> {
  return new JsonStore(dir, USED_STEPS_FILE, 1, (body) => {
    const used = body['used'];
    if (typeof used !== 'object' || used === null || Array.isArray(used)) return { problem: '"used" is not an object' };
    const out = new Map<string, Set<number>>();
    for (const [door, steps] of Object.entries(used)) {
      if (!Array.isArray(steps) || !steps.every((s) => Number.isSafeInteger(s))) {
        return { problem: `used.${door} is not a list of whole numbers` };
      }
      out.set(door, new Set(steps as number[]));
    }
    return out;
  });
}

export class UsedSteps {
  private used = new Map<string, Set<number>>();
  private readonly store: JsonStore<Map<string, Set<number>>> | null;

  /** `dir` null (a dry run): kept in memory only. */
  constructor(dir: string | null) {
    this.store = dir === null ? null : store(dir);
  }

  get path(): string | null {
    return this.store?.path ?? null;
  }

  /**
   * Reads the file. A missing file is no used step; a corrupt one is moved
   * aside and the reason returned (a replay within the few steps it covered
   * would then open again, so it is worth a warning). One that another user
   * could have written throws (TrustError).
   */
  async load(now: number = Date.now()): Promise<string | null> {
    if (this.store === null) return null;
    const loaded = await this.store.load(now);
    if (loaded.value !== null) this.used = loaded.value;
    if (loaded.corrupt === null) return null;
    return `${this.store.path} is not a used-steps file (${loaded.corrupt.reason}); kept it as ${loaded.corrupt.keptAs}`;
  }

  list(): UsedByDoor[] {
    return [...this.used].map(([door, steps]) => ({ door, steps: [...steps].sort((a, b) => a - b) }));
  }

  refusal(door: string, step: number | undefined, stepMs: number, now: number): string | null {
    return stepRefusal(step, this.used.get(door) ?? new Set(), stepMs, now);
  }

  /**
   * Marks a step used and writes the file; rejects when the file cannot be
   * written (the caller keeps the door shut). The step stays used in memory
   * either way: its sequence was on the wire.
   */
  async use(door: string, step: number): Promise<void> {
    let steps = this.used.get(door);
    if (steps === undefined) this.used.set(door, (steps = new Set()));
    steps.add(step);
    if (steps.size > KEEP) steps.delete(Math.min(...steps));
    await this.store?.save(() => ({ used: Object.fromEntries(this.list().map((u) => [u.door, u.steps])) }));
  }
}
