// The read loop `parse` and `replay` share: chunks of input in, lines out
// through one Output, whatever was made before a read or write error printed.

import { readAhead } from '../sources/ahead.js';
import { inputChunks } from '../sources/lines.js';
import type { ChunkCounts } from './chunk.js';
import type { Output } from './output.js';

export interface ReadResult extends ChunkCounts {
  /** The first read or write error, or null. */
  failure: Error | null;
}

/**
 * Runs each chunk of `files` (stdin when none) through `visit`, flushing `out`
 * as it fills; `atEnd` (inside the same error handling) adds what the input's
 * end decides. `visit` gets the 1-based number of the chunk's first line.
 */
export async function readChunks(
  files: string[], out: Output, visit: (chunk: Buffer, firstLine: number) => ChunkCounts,
  atEnd: () => Promise<void> = async () => {},
): Promise<ReadResult> {
  let lines = 0;
  let knocks = 0;
  let failure: Error | null = null;
  try {
    for await (const chunk of readAhead(inputChunks(files))) {
      const r = visit(chunk, lines + 1);
      lines += r.lines;
      knocks += r.knocks;
      await out.flush();
    }
    await atEnd();
  } catch (e) {
    failure = e as Error;
  }
  try {
    // What was made before a read error is printed too.
    await out.flush(true);
  } catch (e) {
    failure ??= e as Error;
  }
  return { lines, knocks, failure };
}
