import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readAhead } from '../src/sources/ahead.js';

/** A source of 1..n that logs when each item is asked for and when it is closed; item `fail` throws. */
function source(n: number, log: string[], fail = -1): AsyncIterable<number> {
  return {
    async *[Symbol.asyncIterator]() {
      try {
        for (let i = 1; i <= n; i++) {
          log.push(`read ${i}`);
          await new Promise((r) => setTimeout(r, 1));
          if (i === fail) throw new Error(`read ${i} failed`);
          yield i;
        }
      } finally {
        log.push('closed');
      }
    },
  };
}

test('readAhead: every item in order, the next one read while the current one is worked on', async () => {
  const log: string[] = [];
  for await (const i of readAhead(source(3, log))) log.push(`work ${i}`);
  // The source ends (and closes) while the last item is worked on.
  assert.deepEqual(log, ['read 1', 'read 2', 'work 1', 'read 3', 'work 2', 'closed', 'work 3']);
});

test('readAhead: a failed read surfaces in its turn, after the items before it, and closes the source', async () => {
  const log: string[] = [];
  const unhandled: unknown[] = [];
  const onUnhandled = (e: unknown) => unhandled.push(e);
  process.on('unhandledRejection', onUnhandled);
  try {
    await assert.rejects(async () => {
      for await (const i of readAhead(source(3, log, 2))) {
        // Long enough for the failing read to settle while this item is worked on.
        await new Promise((r) => setTimeout(r, 20));
        log.push(`work ${i}`);
      }
    }, /read 2 failed/);
    await new Promise((r) => setTimeout(r, 20));
  } finally {
    process.off('unhandledRejection', onUnhandled);
  }
  assert.deepEqual(log, ['read 1', 'read 2', 'closed', 'work 1']);
  assert.deepEqual(unhandled, []);
});

test('readAhead: a consumer that stops early closes the source', async () => {
  const log: string[] = [];
  for await (const i of readAhead(source(5, log))) {
    log.push(`work ${i}`);
    if (i === 2) break;
  }
  assert.deepEqual(log, ['read 1', 'read 2', 'work 1', 'read 3', 'work 2', 'closed']);
});
