// The time steps whose sequences have opened a time-based door, persisted, so
// that a sequence seen on the wire opens nothing again, not even after a restart.

import { splitUsedKey, stepRefusal, usedKey, type UsedSteps as UsedByDoor } from '../totp/index.js';
import { JsonStore } from '../state/store.js';

export const USED_STEPS_FILE = 'used-steps.json';

/**
 * Used steps kept per door, the newest. They are not forgotten by the clock:
 * after the clock ran ahead and was stepped back, a step used before the
 * excursion would be accepted again. 4096 steps are 34 hours of 30 s steps
 * even if every one were used.
 */
const KEEP = 4096;

export type { UsedByDoor };

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isSteps = (v: unknown): v is number[] => Array.isArray(v) && v.every((s) => Number.isSafeInteger(s));

/**
 * The file: `used` maps a door with one shared secret to its used steps;
 * `byUser` maps a door with Sequence_Secret_Dir to its users' (absent in files
 * of older versions: none).
 */
function store(dir: string): JsonStore<Map<string, Set<number>>> {
  return new JsonStore(dir, USED_STEPS_FILE, 1, (body) => {
    const { used, byUser = {} } = body;
    if (!isObject(used)) return { problem: '"used" is not an object' };
    if (!isObject(byUser)) return { problem: '"byUser" is not an object' };
    const out = new Map<string, Set<number>>();
    for (const [door, steps] of Object.entries(used)) {
      if (!isSteps(steps)) return { problem: `used.${door} is not a list of whole numbers` };
      out.set(usedKey(door, null), new Set(steps));
    }
    for (const [door, users] of Object.entries(byUser)) {
      if (!isObject(users)) return { problem: `byUser.${door} is not an object` };
      for (const [user, steps] of Object.entries(users)) {
        if (!isSteps(steps)) return { problem: `byUser.${door}.${user} is not a list of whole numbers` };
        out.set(usedKey(door, user), new Set(steps));
      }
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
    return (
      `${this.store.path} is not a used-steps file (${loaded.corrupt.reason}); ` +
      `kept it as ${loaded.corrupt.keptAs}`
    );
  }

  list(): UsedByDoor[] {
    return [...this.used].map(([key, steps]) => ({ ...splitUsedKey(key), steps: [...steps].sort((a, b) => a - b) }));
  }

  /** Why `user` (null: a door with one shared secret) must not open `door` with `step`'s sequence, or null. */
  refusal(door: string, user: string | null, step: number | undefined, stepMs: number, now: number): string | null {
    return stepRefusal(step, this.used.get(usedKey(door, user)) ?? new Set(), stepMs, now);
  }

  /**
   * Marks a step used and writes the file; rejects when the file cannot be
   * written (the caller keeps the door shut). The step stays used in memory
   * either way: its sequence was on the wire.
   */
  async use(door: string, user: string | null, step: number): Promise<void> {
    const key = usedKey(door, user);
    let steps = this.used.get(key);
    if (steps === undefined) this.used.set(key, (steps = new Set()));
    steps.add(step);
    if (steps.size > KEEP) steps.delete(Math.min(...steps));
    await this.store?.save(() => this.body());
  }

  private body(): Record<string, unknown> {
    const used: Record<string, number[]> = {};
    const byUser: Record<string, Record<string, number[]>> = {};
    for (const u of this.list()) {
      if (u.user === undefined) used[u.door] = u.steps;
      else (byUser[u.door] ??= {})[u.user] = u.steps;
    }
    return Object.keys(byUser).length === 0 ? { used } : { used, byUser };
  }
}
