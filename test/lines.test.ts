import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import fc from 'fast-check';
import { lineBatches } from '../src/sources/lines.js';

async function linesOf(chunks: Buffer[]): Promise<string[]> {
  const out: string[] = [];
  for await (const batch of lineBatches(Readable.from(chunks))) out.push(...batch);
  return out;
}

/** What the lines of a text are: split at \n, a trailing \r dropped, no empty last line for a final \n. */
function expected(text: string): string[] {
  const lines = text.split('\n').map((l) => l.replace(/\r$/, ''));
  if (text.endsWith('\n') || text === '') lines.pop();
  return lines;
}

test('lines survive any chunking, multi-byte characters and CRLF included', async () => {
  const piece = fc.constantFrom('a', 'KNOCK IN=eth0 ', '\n', '\r\n', 'é', '€', '日', '😀', ' ', '\r');
  await fc.assert(fc.asyncProperty(fc.array(piece, { maxLength: 40 }), fc.array(fc.integer({ min: 1, max: 7 }), { minLength: 1 }), async (pieces, sizes) => {
    const text = pieces.join('');
    const bytes = Buffer.from(text);
    const chunks: Buffer[] = [];
    for (let i = 0, k = 0; i < bytes.length; k++) {
      const n = sizes[k % sizes.length]!;
      chunks.push(bytes.subarray(i, i + n));
      i += n;
    }
    assert.deepEqual(await linesOf(chunks), expected(text));
  }), { numRuns: 500 });
});
