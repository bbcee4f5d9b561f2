// Lines from a finite input (a file, or stdin piped from one), in batches:
// one array per chunk read, so that consumers do synchronous work per line
// and only await between chunks (a promise per line would cost more than
// parsing the line).

import { isAscii } from 'node:buffer';
import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';

/**
 * Splits a byte stream into lines (UTF-8, without `\n` or a trailing `\r`);
 * the last line may lack its newline. Chunks are cut at their last newline
 * byte, which never falls inside a multi-byte character, and an all-ASCII
 * chunk (the usual log) is decoded as latin1: measured 4x faster than a
 * StringDecoder and string concatenation, and twice as fast as readline.
 */
export async function* lineBatches(input: Readable): AsyncGenerator<string[]> {
  // The bytes after the last newline so far: the start of a line.
  let carry: Buffer | null = null;
  for await (const chunk of input as AsyncIterable<Buffer | string>) {
    const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    const end = buf.lastIndexOf(10);
    if (end < 0) {
      carry = carry === null ? buf : Buffer.concat([carry, buf]);
      continue;
    }
    let lines: string[];
    if (carry === null) {
      lines = decode(buf, 0, end).split('\n');
    } else {
      // Only the carried line is joined, not the whole chunk.
      const first = buf.indexOf(10);
      lines = first === end ? [] : decode(buf, first + 1, end).split('\n');
      const head = Buffer.concat([carry, buf.subarray(0, first)]);
      lines.unshift(decode(head, 0, head.length));
    }
    carry = end + 1 < buf.length ? buf.subarray(end + 1) : null;
    for (let i = 0; i < lines.length; i++) {
      const l = lines[i]!;
      if (l.charCodeAt(l.length - 1) === 13) lines[i] = l.slice(0, -1);
    }
    yield lines;
  }
  if (carry !== null) {
    const last = decode(carry, 0, carry.length);
    yield [last.charCodeAt(last.length - 1) === 13 ? last.slice(0, -1) : last];
  }
}

function decode(buf: Buffer, start: number, end: number): string {
  return isAscii(buf.subarray(start, end)) ? buf.toString('latin1', start, end) : buf.toString('utf8', start, end);
}

/** The named files one after another, or stdin when there are none. */
export async function* inputBatches(files: string[]): AsyncGenerator<string[]> {
  if (files.length === 0) {
    yield* lineBatches(process.stdin);
    return;
  }
  for (const f of files) yield* lineBatches(createReadStream(f, { highWaterMark: 1 << 20 }));
}
