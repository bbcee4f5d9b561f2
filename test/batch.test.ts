// The reader's batching of decisions: a burst shares a message, but the
// decision the user waits for (an open) is never held back by the batch.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { BATCH_MS, DecisionBatch } from '../src/daemon/batch.js';
import type { Decision } from '../src/types.js';

const stage = (n: number): Decision => ({ event: 'stage', at: n, door: 'ssh', src: '10.0.0.2', stage: n });
const open: Decision = { event: 'open', at: 3, door: 'ssh', src: '10.0.0.2' };

function batch(): { b: DecisionBatch; sent: Decision[][]; clock: { t: number } } {
  const sent: Decision[][] = [];
  const clock = { t: 1000 };
  return { b: new DecisionBatch((ds) => sent.push(ds), () => clock.t), sent, clock };
}

test('an idle reader sends a decision at once', () => {
  const { b, sent } = batch();
  b.push(stage(2));
  b.settle();
  assert.deepEqual(sent, [[stage(2)]]);
});

test('within a burst decisions wait for one message; an open goes at once, after what waited before it', () => {
  const { b, sent, clock } = batch();
  b.push(stage(2));
  b.settle();
  clock.t += 1; // the last knock comes 1 ms after the one before: within BATCH_MS of the last message
  b.push(stage(3));
  b.settle();
  assert.deepEqual(sent, [[stage(2)]], 'a stage line in a burst waits for the batch');
  b.push(open);
  b.settle();
  assert.deepEqual(sent, [[stage(2)], [stage(3), open]], 'the open is sent synchronously, in order');
  b.flush();
  assert.equal(sent.length, 2, 'the timer of the batch was cleared with it');
});

test('what a burst left waiting goes out within BATCH_MS', async () => {
  const { b, sent } = batch();
  b.push(stage(2));
  b.settle();
  b.push(stage(3));
  b.settle();
  assert.equal(sent.length, 1);
  await sleep(BATCH_MS * 10);
  assert.deepEqual(sent, [[stage(2)], [stage(3)]]);
});

test('settle with nothing queued sends nothing', () => {
  const { b, sent } = batch();
  b.settle();
  b.flush();
  assert.deepEqual(sent, []);
});
