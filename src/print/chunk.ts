// The per-line work of `knocklog parse` and `replay` over one chunk of whole
// lines, from bytes in. One thread: measured with the byte-level fast path,
// two worker threads took twice the CPU and memory for a slower run
// (BENCHMARKS.md).

import { isAscii } from 'node:buffer';
import { eventJson } from '../parse/event-json.js';
import { fastLineFor, type FastLine } from '../parse/fast.js';
import { parseLine, type ParseOptions } from '../parse/index.js';
import type { KnockEvent } from '../types.js';
import type { LineSink } from './line-sink.js';

export interface ChunkJob {
  opts: ParseOptions;
  /** Print a reject line for each line that is not a knock record. */
  rejects: boolean;
}

export interface ChunkCounts {
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

/** What becomes of each line of a chunk. */
export interface ChunkVisitor {
  /** A knock record the fast path took: `fast` holds it (json(), event()) until the next line. */
  fast(fast: FastLine): void;
  /** A knock record the strict parser took. */
  event(e: KnockEvent): void;
  /** Any other line, when the job asks for rejects: its 1-based number in the input, and why. */
  reject(line: number, reason: string): void;
}

/**
 * Visits each line of a chunk that ends at a newline (or is the input's
 * last). Without rejects, a line that cannot be a record is never decoded:
 * most lines of a kernel log are other messages, and making strings of them
 * cost more than parsing the records. `firstLine`: the 1-based number of the
 * chunk's first line in the whole input.
 */
export function visitChunk(chunk: Buffer, firstLine: number, job: ChunkJob, v: ChunkVisitor): ChunkCounts {
  // Whether lines can be decoded as latin1; found out at the first line that needs a string.
  let latin1: boolean | null = null;
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
      v.fast(fast);
      start = next;
      continue;
    }
    latin1 ??= isAscii(chunk);
    const line = latin1 ? chunk.toString('latin1', start, end) : chunk.toString('utf8', start, end);
    start = next;
    const r = parseLine(line, job.opts);
    if (r.ok) {
      knocks++;
      v.event(r.event);
    } else if (job.rejects) {
      v.reject(firstLine + lines, r.reason);
    }
  }
  return { lines, knocks };
}

/** Prints each line's JSON. A class, not closures: one method for every chunk keeps its call site inlinable. */
class Printer implements ChunkVisitor {
  constructor(private readonly sink: LineSink) {}

  fast(f: FastLine): void {
    f.json(this.sink);
  }

  event(e: KnockEvent): void {
    this.sink.line(eventJson(e));
  }

  reject(line: number, reason: string): void {
    this.sink.line(JSON.stringify({ line, reject: reason }));
  }
}

/** `knocklog parse` over a chunk: the JSON lines (and reject lines) go into `sink`, in input order. */
export function parseChunk(chunk: Buffer, firstLine: number, job: ChunkJob, sink: LineSink): ChunkCounts {
  return visitChunk(chunk, firstLine, job, new Printer(sink));
}
