// Marks a used one_time_sequences line. knockd writes `#` over the line's
// first byte in place (`7300,...` becomes `#300,...`); knocklog comments the
// whole line and replaces the file atomically, so a crash leaves the old or
// the new file, never half of one.

import { readFile, stat } from 'node:fs/promises';
import { writeFileAtomic } from '../atomic.js';

/** Comments line `line` (1-based) of the file; false when it is not an unused sequence line. */
export async function markOneTimeUsed(path: string, line: number): Promise<boolean> {
  const text = await readFile(path, 'utf8');
  const lines = text.split('\n');
  const current = lines[line - 1];
  if (current === undefined || current.trim() === '' || current.trim().startsWith('#')) return false;
  lines[line - 1] = `# used ${new Date().toISOString()}: ${current.trim()}`;
  await writeFileAtomic(path, lines.join('\n'), (await stat(path)).mode & 0o7777);
  return true;
}
