// Lines from a finite input (a file, or stdin piped from one), in batches:
// one array per chunk read, so that consumers do synchronous work per line
// and only await between chunks (a promise per line would cost more than
// parsing the line).

import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';

/** Splits a stream into lines (UTF-8, without `\n` or a trailing `\r`); the last line may lack its newline. */
export async function* lineBatches(input: Readable): AsyncGenerator<string[]> {
  input.setEncoding('utf8'); // a StringDecoder: multi-byte characters split across chunks stay whole
  let carry = '';
  for await (const chunk of input as AsyncIterable<string>) {
    const text = carry + chunk;
    const lines = text.split('\n');
    carry = lines.pop() ?? '';
    for (let i = 0; i < lines.length; i++) {
      const l = lines[i]!;
      if (l.charCodeAt(l.length - 1) === 13) lines[i] = l.slice(0, -1);
    }
    if (lines.length > 0) yield lines;
  }
  if (carry !== '') yield [carry.charCodeAt(carry.length - 1) === 13 ? carry.slice(0, -1) : carry];
}

/** The named files one after another, or stdin when there are none. */
export async function* inputBatches(files: string[]): AsyncGenerator<string[]> {
  if (files.length === 0) {
    yield* lineBatches(process.stdin);
    return;
  }
  for (const f of files) yield* lineBatches(createReadStream(f, { highWaterMark: 1 << 20 }));
}
