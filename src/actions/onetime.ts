// Marks a used one_time_sequences line. knockd writes `#` over the line's
// first byte in place (`7300,...` becomes `#300,...`); knocklog comments the
// whole line and replaces the file atomically, so a crash leaves the old or
// the new file, never half of one.

import { randomBytes } from 'node:crypto';
import { open, readFile, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** Comments line `line` (1-based) of the file; false when it is not an unused sequence line. */
export async function markOneTimeUsed(path: string, line: number): Promise<boolean> {
  const text = await readFile(path, 'utf8');
  const lines = text.split('\n');
  const current = lines[line - 1];
  if (current === undefined || current.trim() === '' || current.trim().startsWith('#')) return false;
  lines[line - 1] = `# used ${new Date().toISOString()}: ${current.trim()}`;
  const mode = (await stat(path)).mode & 0o7777;
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(4).toString('hex')}.tmp`);
  const f = await open(tmp, 'wx', mode);
  try {
    await f.writeFile(lines.join('\n'));
    await f.sync();
  } catch (e) {
    await f.close();
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
  await f.close();
  await rename(tmp, path);
  return true;
}
