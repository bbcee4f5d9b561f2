// Lines from a finite input (a file, or stdin piped from one), in chunks of
// whole lines: consumers do synchronous work per line and only await between
// chunks (a promise per line would cost more than parsing the line), and a
// chunk of bytes can be handed to another thread as it is.

import { isAscii } from 'node:buffer';
import { open } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { MAX_LINE } from '../parse/index.js';

/**
 * Bytes of a line kept at most: a line longer than this has more than
 * MAX_LINE characters whatever its encoding (UTF-8, invalid bytes included,
 * gives at least one UTF-16 unit per 3 bytes), so parseLine refuses it as
 * "line too long" from its first LONG_LINE bytes as well as from all of them.
 */
export const LONG_LINE = 4 * (MAX_LINE + 1);

/**
 * The partial line at the end of what was read so far. A line still without
 * a newline after LONG_LINE bytes is cut there and the rest of it skipped as
 * it comes, so each byte is looked at once and memory stays bounded, however
 * long the line (a 100 MB line used to take minutes: the whole line was kept,
 * copied and searched again on every read).
 */
export class LineCarry {
  /** The bytes of the partial line (at most LONG_LINE), or null. */
  pending: Buffer | null = null;
  /** The partial line was cut: its bytes are skipped up to its newline. */
  private skipping = false;

  /**
   * `buf[0, start)` holds `pending` (copied there by the caller) and
   * `buf[start, total)` the bytes read next. Returns the whole lines, a
   * subarray of `buf` ending at a newline (null when there are none), and
   * keeps the partial line after them.
   */
  take(buf: Buffer, start: number, total: number): Buffer | null {
    let from = 0;
    if (this.skipping) {
      const nl = buf.subarray(0, total).indexOf(10, start);
      if (nl < 0) return null;
      this.skipping = false;
      // The cut line's kept bytes go right before its newline, over skipped ones.
      buf.copy(buf, nl - start, 0, start);
      from = nl - start;
    }
    const end = buf.lastIndexOf(10, total - 1);
    if (end < from) {
      this.keep(buf.subarray(from, total));
      return null;
    }
    this.keep(buf.subarray(end + 1, total));
    return buf.subarray(from, end + 1);
  }

  /** The last line of a finished input (it lacks its newline), or null. */
  end(): Buffer | null {
    const last = this.pending;
    this.pending = null;
    this.skipping = false;
    return last;
  }

  private keep(rest: Buffer): void {
    if (rest.length > LONG_LINE) {
      rest = rest.subarray(0, LONG_LINE);
      this.skipping = true;
    }
    this.pending = rest.length === 0 ? null : owned([rest]);
  }
}

/**
 * Cuts a byte stream into chunks that end at a newline (the last chunk may
 * lack it). Each chunk is a Buffer alone in its ArrayBuffer (which may be
 * larger), so that it can be transferred to a worker thread.
 */
export async function* lineChunks(input: Readable): AsyncGenerator<Buffer> {
  const carry = new LineCarry();
  for await (const chunk of input as AsyncIterable<Buffer | string>) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    const pending = carry.pending;
    const buf = pending === null ? owned([bytes]) : owned([pending, bytes]);
    const lines = carry.take(buf, pending?.length ?? 0, buf.length);
    if (lines !== null) yield lines;
  }
  const last = carry.end();
  if (last !== null) yield last;
}

const READ_SIZE = 1 << 20;

/**
 * A file's chunks as lineChunks cuts them, read straight into the Buffers
 * that are handed on: only the partial line at a chunk's end is copied (into
 * the next), where a stream's chunks would all be copied once more. Each
 * chunk has memory of its own: `parse` and `replay` read the next chunk while
 * they still parse this one (print/read.ts).
 */
export async function* fileChunks(path: string): AsyncGenerator<Buffer> {
  const fh = await open(path, 'r');
  try {
    const carry = new LineCarry();
    for (;;) {
      const pending = carry.pending;
      const have = pending?.length ?? 0;
      const buf = Buffer.allocUnsafeSlow(have + READ_SIZE);
      pending?.copy(buf);
      const { bytesRead } = await fh.read(buf, have, READ_SIZE, null);
      if (bytesRead === 0) break;
      // The partial line is copied before the chunk is handed on: the consumer may transfer its memory.
      const lines = carry.take(buf, have, have + bytesRead);
      if (lines !== null) yield lines;
    }
    const last = carry.end();
    if (last !== null) yield last;
  } finally {
    await fh.close();
  }
}

/** A copy of the parts in a Buffer of its own (Buffer.concat may use the shared pool). */
function owned(parts: Buffer[]): Buffer {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = Buffer.allocUnsafeSlow(n);
  let at = 0;
  for (const p of parts) at += p.copy(out, at);
  return out;
}

/**
 * The lines of a chunk (UTF-8, without `\n` or a trailing `\r`). A chunk ends
 * at a newline byte, which never falls inside a multi-byte character, and an
 * all-ASCII chunk (the usual log) is decoded as latin1: measured 4x faster
 * than a StringDecoder and string concatenation, and twice as fast as readline.
 */
export function splitLines(chunk: Buffer): string[] {
  if (chunk.length === 0) return [];
  const end = chunk[chunk.length - 1] === 10 ? chunk.length - 1 : chunk.length;
  const text = isAscii(chunk) ? chunk.toString('latin1', 0, end) : chunk.toString('utf8', 0, end);
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!;
    if (l.charCodeAt(l.length - 1) === 13) lines[i] = l.slice(0, -1);
  }
  return lines;
}


/**
 * Bytes of lines per batch, at most (a longer line is a batch of its own).
 * A batch's text stays small and short-lived: a whole 1 MiB chunk's outlived
 * two young-generation collections while its lines were handled, and waited
 * for the next full one (measured: 45 MB of a flood replay's peak RSS).
 */
const BATCH_BYTES = 1 << 16;

/** A chunk of whole lines in batches (the chunk's memory, not copied). */
function* batches(chunk: Buffer): Generator<Buffer> {
  for (let start = 0; start < chunk.length;) {
    let end = start + BATCH_BYTES >= chunk.length ? chunk.length : chunk.lastIndexOf(10, start + BATCH_BYTES - 1) + 1;
    if (end <= start) end = chunk.indexOf(10, start) + 1 || chunk.length;
    yield chunk.subarray(start, end);
    start = end;
  }
}

/** The lines of chunks of whole lines, in batches of at most BATCH_BYTES. */
async function* linesOf(chunks: AsyncIterable<Buffer>): AsyncGenerator<string[]> {
  for await (const chunk of chunks) for (const b of batches(chunk)) yield splitLines(b);
}

/** Splits a byte stream into lines, in batches. */
export function lineBatches(input: Readable): AsyncGenerator<string[]> {
  return linesOf(lineChunks(input));
}

/** The named files' chunks one after another, or stdin's when there are none. */
export async function* inputChunks(files: string[]): AsyncGenerator<Buffer> {
  if (files.length === 0) {
    yield* lineChunks(process.stdin);
    return;
  }
  for (const f of files) yield* fileChunks(f);
}

