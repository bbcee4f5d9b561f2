// The per-line work of `knocklog parse` over one chunk of whole lines, from
// bytes in to the bytes to print: the same function runs in the main thread
// and in the worker threads, so both paths print the same bytes.

import { eventJson } from '../parse/event-json.js';
import { parseLine, type ParseOptions } from '../parse/index.js';
import { splitLines } from '../sources/lines.js';
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

/** `firstLine`: the 1-based number of the chunk's first line in the whole input (used by rejects only). */
export function parseChunk(chunk: Buffer, firstLine: number, job: ChunkJob): ChunkResult {
  const lines = splitLines(chunk);
  // Knock lines print ~190 bytes for ~210 read: one allocation for most chunks.
  const sink = new LineSink(chunk.length + 4096);
  const { opts, rejects } = job;
  let knocks = 0;
  for (let i = 0; i < lines.length; i++) {
    const r = parseLine(lines[i]!, opts);
    if (r.ok) {
      knocks++;
      sink.line(eventJson(r.event));
    } else if (rejects) {
      sink.line(JSON.stringify({ line: firstLine + i, reject: r.reason }));
    }
  }
  return { out: sink.take(), lines: lines.length, knocks };
}
