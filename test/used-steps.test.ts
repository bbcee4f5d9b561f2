// The executor's record of used time steps: its checks and its file.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UsedSteps } from '../src/actions/used-steps.js';
import { stepRefusal } from '../src/totp/index.js';
import { openTempDir, removeDir } from './helpers/daemon.js';

const STEP_MS = 30_000;
const NOW = 60_000_000 * STEP_MS + 10_000;
const N = 60_000_000;

test('the executor accepts steps N-1..N+1 of its own clock, once each, and nothing without a step', () => {
  const used = new Set([N]);
  assert.equal(stepRefusal(N - 1, used, STEP_MS, NOW), null);
  assert.equal(stepRefusal(N + 1, used, STEP_MS, NOW), null);
  assert.match(stepRefusal(N, used, STEP_MS, NOW)!, /used already/);
  assert.match(stepRefusal(N - 2, used, STEP_MS, NOW)!, /not within 1 of the current step/);
  assert.match(stepRefusal(N + 2, used, STEP_MS, NOW)!, /not within 1/);
  assert.match(stepRefusal(undefined, used, STEP_MS, NOW)!, /names no time step/);
});

test('used steps survive in the state directory; a corrupt file is moved aside', async () => {
  const dir = openTempDir('used');
  try {
    const a = new UsedSteps(dir);
    assert.equal(await a.load(), null, 'no file yet: nothing used');
    await Promise.all([a.use('ssh', null, N - 3), a.use('ssh', null, N), a.use('web', null, N + 1)]);
    const b = new UsedSteps(dir);
    assert.equal(await b.load(), null);
    assert.deepEqual(b.list(), [{ door: 'ssh', steps: [N - 3, N] }, { door: 'web', steps: [N + 1] }]);
    assert.match(b.refusal('ssh', null, N, STEP_MS, NOW)!, /used already/);
    assert.equal(b.refusal('web', null, N, STEP_MS, NOW), null);
    assert.deepEqual(JSON.parse(readFileSync(join(dir, 'used-steps.json'), 'utf8')),
      { version: 1, used: { ssh: [N - 3, N], web: [N + 1] } });
    writeFileSync(join(dir, 'used-steps.json'), '{"version":1,"used":{"ssh":["x"]}}');
    const c = new UsedSteps(dir);
    assert.match((await c.load(NOW))!,
      /is not a used-steps file \(used\.ssh is not a list of whole numbers\); kept it as .*corrupt-/);
    assert.deepEqual(c.list(), []);
    assert.ok(!existsSync(join(dir, 'used-steps.json')));
    assert.equal(readdirSync(dir).filter((f) => f.includes('.corrupt-')).length, 1);
  } finally {
    removeDir(dir);
  }
});

test('L11: a step used before the clock ran ahead is still refused after the clock is stepped back', async () => {
  const used = new UsedSteps(null);
  await used.use('ssh', null, N);
  // The clock runs an hour ahead and a sequence of that time is used...
  await used.use('ssh', null, N + 120);
  // ...then NTP steps it back: the sequence captured before the excursion must not open again.
  assert.match(used.refusal('ssh', null, N, STEP_MS, NOW + 5_000)!, /used already/);
});
