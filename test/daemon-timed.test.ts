// A time-based door in the real daemon: the used step is persisted, so a
// replay after a restart opens nothing.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { removeDir, waitUntil } from './helpers/daemon.js';
import { actionsOf, knock, reading, start, timedLab } from './helpers/daemon-lab.js';

test('a time-based sequence opens once; replayed after a restart it opens nothing, '
  + 'and a fresh step still opens', async () => {
  const { l, step, ports } = timedLab('timed');
  let d = start(l);
  try {
    await reading(l, d);
    knock(l, '10.0.0.2', ports(step));
    await d.waitFor(/^10\.0\.0\.2: timed: OPEN SESAME$/);
    await waitUntil('the open', () => actionsOf(l).includes('timed-open 10.0.0.2'));
    const used = JSON.parse(readFileSync(join(l.state, 'used-steps.json'), 'utf8')) as
      { used: Record<string, number[]> };
    assert.deepEqual(used.used, { timed: [step] });
    assert.equal(await d.stop(), 0);

    d = start(l);
    await reading(l, d);
    // The replay (from the same and from another address), then a fresh step's sequence as a marker:
    // once the marker has opened, the lines before it have been acted on.
    knock(l, '10.0.0.3', ports(step));
    knock(l, '10.0.0.2', ports(step));
    knock(l, '10.0.0.4', ports(step + 1));
    await d.waitFor(/^10\.0\.0\.4: timed: OPEN SESAME$/);
    assert.ok(!d.has(/^10\.0\.0\.[23]: timed: OPEN SESAME/), 'the replay opened the door');
    assert.ok(!d.has(/refused/), 'the reader restored the used step itself: the executor had nothing to refuse');
    await waitUntil('the marker open', () => actionsOf(l).includes('timed-open 10.0.0.4'));
    assert.deepEqual(actionsOf(l).filter((a) => a.startsWith('timed-open')),
      ['timed-open 10.0.0.2', 'timed-open 10.0.0.4']);
  } finally {
    await d.stop();
    removeDir(l.dir);
  }
});
