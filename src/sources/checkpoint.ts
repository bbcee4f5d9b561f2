// A source's resume position in the state directory: written atomically
// (temp file, fsync, rename) at most once per interval and at stop, so a
// crash leaves either the old or the new position, never a torn file.
// Saving once a second is at-least-once delivery: after a SIGKILL up to a
// second of lines comes again.

import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../state/atomic.js';
import type { Log } from '../log.js';

/** `pos-<name>.json` with every character but [A-Za-z0-9._-] %-escaped: distinct names give distinct files. */
export function checkpointPath(stateDir: string, name: string): string {
  const safe = name.replace(/[^A-Za-z0-9._-]/g, (c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  return join(stateDir, `pos-${safe}.json`);
}

export class Checkpoint<T> {
  private timer: NodeJS.Timeout | null = null;
  private dirty = false;
  private writing: Promise<void> | null = null;
  private failing = false;

  /** `snapshot` gives the position to save when a save is due. */
  constructor(
    private readonly file: string | null,
    private readonly snapshot: () => T,
    private readonly log: Log,
    private readonly intervalMs = 1000,
  ) {}

  /** The saved position, or null when there is none or it is not valid (then warned). */
  async load(valid: (v: unknown) => v is T): Promise<T | null> {
    if (this.file === null) return null;
    let text: string;
    try {
      text = await readFile(this.file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
      this.log.warn(`cannot read the saved position ${this.file} (${(e as Error).message}): starting without it`);
      return null;
    }
    try {
      const v: unknown = JSON.parse(text);
      if (valid(v)) return v;
    } catch {
      // reported below
    }
    this.log.warn(`${this.file} does not hold a valid saved position: starting without it (the file is rewritten)`);
    return null;
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
    if (!this.dirty || this.file === null) return;
    this.dirty = false;
    const file = this.file;
    this.writing = writeFileAtomic(file, `${JSON.stringify(this.snapshot())}\n`).then(
      () => {
        if (this.failing) this.log.info(`saving the position to ${file} works again`);
        this.failing = false;
      },
      (e: Error) => {
        this.dirty = true;
        // Reported once per failing streak: it is retried with every change.
        if (!this.failing) this.log.warn(`cannot save the position to ${file} (${e.message}): check the state directory; after a restart lines may be read twice or missed`);
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
