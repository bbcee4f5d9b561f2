// A source's resume position in the reader's state directory, kept like all
// state (src/state/store.ts: versioned JSON, atomic writes, a bad file set
// aside), saved at most once per interval and at stop. Saving once a second is
// at-least-once delivery: after a SIGKILL up to a second of lines comes again.

import { basename, dirname, join } from 'node:path';
import type { Log } from '../log.js';
import { JsonStore } from '../state/store.js';

/** `pos-<name>.json` with every character but [A-Za-z0-9._-] %-escaped: distinct names give distinct files. */
export function checkpointPath(stateDir: string, name: string): string {
  const safe = name.replace(/[^A-Za-z0-9._-]/g, (c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  return join(stateDir, `pos-${safe}.json`);
}

export class Checkpoint<T extends object> {
  private timer: NodeJS.Timeout | null = null;
  private dirty = false;
  private writing: Promise<void> | null = null;
  private failing = false;
  private readonly store: JsonStore<T> | null;

  /** `snapshot` gives the position to save when a save is due; `valid` checks a saved one. */
  constructor(
    private readonly file: string | null,
    valid: (v: unknown) => v is T,
    private readonly snapshot: () => T,
    private readonly log: Log,
    private readonly intervalMs = 1000,
  ) {
    // The reader's own file (it trusts no more than it could write); files from before versions read as version 1.
    this.store = file === null ? null : new JsonStore(dirname(file), basename(file), 1,
      (body) => (valid(body) ? body : { problem: 'not a saved position of this source' }), false, true);
  }

  /** The saved position, or null when there is none or it is not valid (then warned, and the file set aside). */
  async load(): Promise<T | null> {
    if (this.store === null) return null;
    try {
      const loaded = await this.store.load();
      if (loaded.corrupt !== null) {
        this.log.warn(
          `${this.file} does not hold a valid saved position (${loaded.corrupt.reason}): starting without it ` +
            `(kept as ${loaded.corrupt.keptAs})`,
        );
      }
      return loaded.value;
    } catch (e) {
      this.log.warn(`cannot read the saved position ${this.file} (${(e as Error).message}): starting without it`);
      return null;
    }
  }

  /** The position moved: save it within the interval. */
  changed(): void {
    this.dirty = true;
    if (this.file === null || this.timer !== null) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.save();
    }, this.intervalMs);
    this.timer.unref();
  }

  /** Saves now if the position moved since the last save (at stop). */
  async flush(): Promise<void> {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    await this.save();
  }

  private async save(): Promise<void> {
    while (this.writing !== null) await this.writing;
    if (!this.dirty || this.store === null) return;
    this.dirty = false;
    const file = this.file;
    this.writing = this.store.save(() => this.snapshot()).then(
      () => {
        if (this.failing) this.log.info(`saving the position to ${file} works again`);
        this.failing = false;
      },
      (e: Error) => {
        this.dirty = true;
        // Reported once per failing streak: it is retried with every change.
        if (!this.failing) {
          this.log.warn(`cannot save the position to ${file} (${e.message}): check the state directory; ` +
            'after a restart lines may be read twice or missed');
        }
        this.failing = true;
      },
    );
    try {
      await this.writing;
    } finally {
      this.writing = null;
    }
  }
}
