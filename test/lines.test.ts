import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import fc from 'fast-check';
import { parseLine } from '../src/parse/index.js';
import { LONG_LINE, lineBatches } from '../src/sources/lines.js';

async function linesOf(chunks: Buffer[]): Promise<string[]> {
  const out: string[] = [];
  for await (const batch of lineBatches(Readable.from(chunks))) out.push(...batch);
  return out;
}

/** The bytes in pieces of the given sizes, in turn. */
function chunked(bytes: Buffer, sizes: number[]): Buffer[] {
  const chunks: Buffer[] = [];
  for (let i = 0, k = 0; i < bytes.length; k++) {
    const n = sizes[k % sizes.length]!;
    chunks.push(bytes.subarray(i, i + n));
    i += n;
  }
  return chunks;
}

/** What the lines of a text are: split at \n, a trailing \r dropped, no empty last line for a final \n. */
function expected(text: string): string[] {
  const lines = text.split('\n').map((l) => l.replace(/\r$/, ''));
  if (text.endsWith('\n') || text === '') lines.pop();
  return lines;
}

test('lines survive any chunking, multi-byte characters and CRLF included', async () => {
  const piece = fc.constantFrom('a', 'KNOCK IN=eth0 ', '\n', '\r\n', 'é', '€', '日', '😀', ' ', '\r');
  await fc.assert(fc.asyncProperty(fc.array(piece, { maxLength: 40 }),
    fc.array(fc.integer({ min: 1, max: 7 }), { minLength: 1 }), async (pieces, sizes) => {
    const text = pieces.join('');
    assert.deepEqual(await linesOf(chunked(Buffer.from(text), sizes)), expected(text));
  }), { numRuns: 500 });
});

test('a line over LONG_LINE bytes comes whole or cut to its first LONG_LINE bytes: too long to parse', async () => {
  const piece = fc.oneof(
    fc.constantFrom('a', 'KNOCK ', '\n', '\r\n', '€'),
    fc.integer({ min: LONG_LINE - 2, max: LONG_LINE + 40_000 }).map((n) => 'x'.repeat(n)),
    fc.integer({ min: Math.floor(LONG_LINE / 3) - 2, max: Math.floor(LONG_LINE / 3) + 10 }).map((n) => '€'.repeat(n)),
  );
  const sizes = fc.array(fc.integer({ min: 1, max: 70_000 }), { minLength: 1, maxLength: 5 });
  const opts = { prefix: 'KNOCK', format: 'auto' as const, now: new Date() };
  await fc.assert(fc.asyncProperty(fc.array(piece, { maxLength: 12 }), sizes, async (pieces, sizes) => {
    const text = pieces.join('');
    const got = await linesOf(chunked(Buffer.from(text), sizes));
    const want = expected(text);
    assert.equal(got.length, want.length);
    want.forEach((l, i) => {
      const b = Buffer.from(l);
      if (b.length <= LONG_LINE) assert.equal(got[i], l);
      else {
        // Cut when the line had not ended by the read that took it past LONG_LINE bytes.
        assert.ok(got[i] === l || got[i] === b.subarray(0, LONG_LINE).toString(), `line ${i} of ${b.length} bytes`);
        assert.deepEqual(parseLine(got[i]!, opts), { ok: false, reason: 'line too long' });
      }
    });
  }), { numRuns: 200 });
});
