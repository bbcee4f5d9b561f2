// Replacing a small state file so that a crash leaves the old or the new file, never a part.

import { closeSync, mkdirSync, openSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { mkdir, open, rename, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';

let tmpCounter = 0;

const tmpName = (path: string) => `${path}.tmp-${process.pid}-${tmpCounter++}`;

/**
 * Writes `text` to `path` (mode 0600 unless given) through a synced temporary
 * file in the same directory, a rename, and a sync of the directory. Without
 * `durable`, no sync: every process sees the old file or the new one, and a
 * crash of ours cannot lose it; only a power loss could.
 */
export async function writeFileAtomic(path: string, text: string, mode = 0o600, durable = true): Promise<void> {
  if (!durable) {
    replaceFile(path, text, mode);
    return;
  }
  const dir = dirname(path);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const tmp = tmpName(path);
  try {
    const fh = await open(tmp, 'wx', mode);
    try {
      await fh.writeFile(text);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
  // The rename itself is durable only once the directory is synced.
  const dh = await open(dir, 'r');
  try {
    await dh.sync();
  } finally {
    await dh.close();
  }
}

/**
 * The write without syncs, done at once: it precedes a start command, and
 * page-cache work is cheaper than five trips through the thread pool
 * (measured: 0.13 ms against 0.27-0.36 ms for a small file).
 */
function replaceFile(path: string, text: string, mode: number): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = tmpName(path);
  try {
    const fd = openSync(tmp, 'wx', mode);
    try {
      writeFileSync(fd, text);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (e) {
    try {
      unlinkSync(tmp);
    } catch {
      // nothing was created
    }
    throw e;
  }
}
