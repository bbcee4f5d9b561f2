// Marks a used one_time_sequences line. knockd writes `#` over the line's
// first byte in place (`7300,...` becomes `#300,...`); knocklog comments the
// whole line and replaces the file atomically, so a crash leaves the old or
// the new file, never half of one. The line is found by what it holds, read
// afresh: the file may have been edited since it was loaded (M4 of the audit).

import { readFile, stat } from 'node:fs/promises';
import { formatSequence, parseSequence } from '../config/index.js';
import { writeFileAtomic } from '../state/atomic.js';
import type { SequenceStep } from '../types.js';

/**
 * Comments the first unused line of the file that holds `sequence`, and
 * returns its 1-based number; throws when no unused line holds it, or the
 * file cannot be read or replaced (the door must then stay shut).
 */
export async function markOneTimeUsed(path: string, sequence: readonly SequenceStep[]): Promise<number> {
  const text = await readFile(path, 'utf8');
  const lines = text.split('\n');
  const wanted = formatSequence(sequence);
  const index = lines.findIndex((raw) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return false;
    const seq = parseSequence(line.replace(/^\uFEFF/, ''));
    return seq.ok && formatSequence(seq.value) === wanted;
  });
  if (index === -1) throw new Error(`no unused line of the file holds ${wanted} any more (was the file edited?)`);
  lines[index] = `# used ${new Date().toISOString()}: ${lines[index]!.trim()}`;
  await writeFileAtomic(path, lines.join('\n'), (await stat(path)).mode & 0o7777);
  return index + 1;
}
