// Replacing a small state file so that a crash leaves the old or the new file, never a part.

import { mkdir, open, rename, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';

let tmpCounter = 0;

/**
 * Writes `text` to `path` (mode 0600 unless given) through a synced temporary
 * file in the same directory, a rename, and a sync of the directory. Without
 * `durable`, no sync: every process sees the old file or the new one, and a
 * crash of ours cannot lose it; only a power loss could.
 */
export async function writeFileAtomic(path: string, text: string, mode = 0o600, durable = true): Promise<void> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const tmp = `${path}.tmp-${process.pid}-${tmpCounter++}`;
  try {
    const fh = await open(tmp, 'wx', mode);
    try {
      await fh.writeFile(text);
      if (durable) await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmp, path);
  } catch (e) {
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
  if (!durable) return;
  // The rename itself is durable only once the directory is synced.
  const dh = await open(dir, 'r');
  try {
    await dh.sync();
  } finally {
    await dh.close();
  }
}
