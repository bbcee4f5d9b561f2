// The per-line work of `knocklog parse` over one chunk of whole lines, from
// bytes in to the bytes to print: the same function runs in the main thread
// and in the worker threads, so both paths print the same bytes.

import { isAscii } from 'node:buffer';
import { eventJson } from '../parse/event-json.js';
import { fastLineFor } from '../parse/fast.js';
import { parseLine, type ParseOptions } from '../parse/index.js';
import { LineSink } from './line-sink.js';

export interface ChunkJob {
  opts: ParseOptions;
  /** Print a reject line for each line that is not a knock record. */
  rejects: boolean;
}

export interface ChunkResult {
  /** The JSON lines to print, in input order. */
  out: Buffer;
  lines: number;
  knocks: number;
}

const ASCII = /^[\x00-\x7f]*$/;

/**
 * The bytes every knock record's line holds, when the line is not JSON (see
 * parseLine's pre-filter); null when every line must be parsed. Only for an
 * ASCII prefix: ASCII bytes decode to the same characters whatever surrounds
 * them, so "the bytes hold it" is "the decoded line holds it".
 */
function needle(job: ChunkJob): Buffer | null {
  const prefix = job.opts.prefix.trimEnd();
  return job.rejects || prefix === '' || !ASCII.test(prefix) ? null : Buffer.from(prefix, 'latin1');
}

/**
 * Parses each line of a chunk that ends at a newline (or is the input's
 * last). Without --rejects, a line that cannot be a record is never decoded:
 * most lines of a kernel log are other messages, and making strings of them
 * cost more than parsing the records. `firstLine`: the 1-based number of the
 * chunk's first line in the whole input (printed in reject lines).
 */
export function parseChunk(chunk: Buffer, firstLine: number, job: ChunkJob): ChunkResult {
  // Knock lines print ~190 bytes for ~210 read: one allocation for most chunks.
  const sink = new LineSink(chunk.length + 4096);
  const latin1 = isAscii(chunk);
  const find = needle(job);
  const fast = fastLineFor(job.opts);
  const now = job.opts.now;
  // Where `find` next occurs at or after the current line's start (-1: nowhere).
  let hit = find === null ? -1 : chunk.indexOf(find);
  let lines = 0;
  let knocks = 0;
  for (let start = 0; start < chunk.length; lines++) {
    let end = chunk.indexOf(10, start);
    const next = end === -1 ? chunk.length : end + 1;
    if (end === -1) end = chunk.length;
    if (find !== null && chunk[start] !== 123 /* { */) {
      if (hit !== -1 && hit < start) hit = chunk.indexOf(find, start);
      if (hit === -1 || hit >= end) {
        start = next;
        continue;
      }
    }
    if (end > start && chunk[end - 1] === 13) end--;
    if (fast?.scan(chunk, start, end, now)) {
      knocks++;
      fast.json(sink);
      start = next;
      continue;
    }
    const line = latin1 ? chunk.toString('latin1', start, end) : chunk.toString('utf8', start, end);
    start = next;
    const r = parseLine(line, job.opts);
    if (r.ok) {
      knocks++;
      sink.line(eventJson(r.event));
    } else if (job.rejects) {
      sink.line(JSON.stringify({ line: firstLine + lines, reject: r.reason }));
    }
  }
  return { out: sink.take(), lines, knocks };
}
