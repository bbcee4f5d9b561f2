// One way to keep state: a small versioned JSON file, validated on load, a
// corrupt one set aside, writes serialized and atomic. The executor's files
// (open doors, used time steps) also get the ownership checks of trust.ts:
// they are opened without following links, and one that another user could
// have written is refused (TrustError), never acted on.

import { constants } from 'node:fs';
import { open, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from './atomic.js';
import { TrustError } from './trust.js';

/** Checks a parsed body (its `version` already matched); the value, or why it is not one. */
export type Validate<T> = (body: Record<string, unknown>) => T | { problem: string };

export interface Loaded<T> {
  /** null: no file. */
  value: T | null;
  /** Set when the file was not valid state: why, and where it was moved. */
  corrupt: { reason: string; keptAs: string } | null;
}

const isProblem = (v: unknown): v is { problem: string } =>
  typeof v === 'object' && v !== null && typeof (v as { problem?: unknown }).problem === 'string';

export class JsonStore<T> {
  readonly path: string;
  private saving: Promise<void> = Promise.resolve();
  private queued: Promise<void> | null = null;
  private queuedDurable = false;

  constructor(
    dir: string,
    file: string,
    private readonly version: number,
    private readonly validate: Validate<T>,
    /** Refuse a file another user could have written (the executor's state). */
    private readonly trusted = true,
    /** Read a file without a `version` (written before versions) as this version. */
    private readonly unversioned = false,
  ) {
    this.path = join(dir, file);
  }

  /** Why the text is not valid state, or the value. */
  parse(text: string): T | { problem: string } {
    let v: unknown;
    try {
      v = JSON.parse(text);
    } catch (e) {
      return { problem: `not JSON: ${(e as Error).message}` };
    }
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return { problem: 'not a JSON object' };
    const body = v as Record<string, unknown>;
    if (body['version'] !== this.version && !(this.unversioned && body['version'] === undefined)) {
      return { problem: `unknown version ${JSON.stringify(body['version'])} (expected ${this.version})` };
    }
    return this.validate(body);
  }

  /** The file's text, or null when there is none; TrustError when it is not ours alone. */
  async read(): Promise<string | null> {
    let fh;
    try {
      fh = await open(this.path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return null;
      if (code === 'ELOOP') {
        throw new TrustError(`${this.path} is a symbolic link: knocklog follows no links in its state directory. ` +
          'Fix: remove it');
      }
      throw e;
    }
    try {
      const st = await fh.stat();
      if (this.trusted) {
        const uid = process.geteuid?.() ?? 0;
        if (!st.isFile()) throw new TrustError(`${this.path} is not a regular file. Fix: remove it`);
        if (st.uid !== uid && st.uid !== 0) {
          throw new TrustError(`${this.path} is owned by uid ${st.uid}, not by root or uid ${uid} (knocklog's): ` +
            `another user could have written it. Fix: check what it holds, then remove it or chown ${uid} it`);
        }
        if ((st.mode & 0o022) !== 0) {
          const who = (st.mode & 0o002) !== 0 ? 'others' : 'its group';
          throw new TrustError(`${this.path} is writable by ${who} (mode ${(st.mode & 0o7777).toString(8)}). ` +
            `Fix: check what it holds, then chmod go-w ${this.path}`);
        }
      }
      return await fh.readFile('utf8');
    } finally {
      await fh.close();
    }
  }

  /** Reads the file without changing anything: for `status`. */
  async peek(): Promise<T | null | { problem: string }> {
    const text = await this.read();
    return text === null ? null : this.parse(text);
  }

  /**
   * Reads the file. A corrupt one is moved aside (`NAME.corrupt-TIMESTAMP`)
   * and reported, never thrown; an untrusted one throws TrustError.
   */
  async load(now: number = Date.now()): Promise<Loaded<T>> {
    const text = await this.read();
    if (text === null) return { value: null, corrupt: null };
    const v = this.parse(text);
    if (!isProblem(v)) return { value: v, corrupt: null };
    const keptAs = `${this.path}.corrupt-${new Date(now).toISOString().replace(/[:.]/g, '-')}`;
    await rename(this.path, keptAs);
    return { value: null, corrupt: { reason: v.problem, keptAs } };
  }

  /** Resolves when the writes begun so far have ended, however they ended. */
  settled(): Promise<void> {
    return this.saving.catch(() => undefined);
  }

  /**
   * Writes `body()` as it is when the write starts, after the writes before it.
   * A call made while a write waits to begin joins that write (unless it
   * wants durability and that write does not): each caller learns whether its
   * change was written (the promise rejects if not). `durable: false` skips the
   * syncs (atomic.ts): for a write that must precede an action but not wait
   * for the disk.
   */
  save(body: () => object, durable = true): Promise<void> {
    if (this.queued !== null && (this.queuedDurable || !durable)) return this.queued;
    const p = this.saving.catch(() => undefined).then(() => {
      if (this.queued === p) this.queued = null;
      return writeFileAtomic(this.path, `${JSON.stringify({ version: this.version, ...body() })}\n`, 0o600, durable);
    });
    this.queued = p;
    this.queuedDurable = durable;
    this.saving = p;
    return p;
  }
}
