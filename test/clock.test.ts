// steadyClock: the executor's clock for closing doors. It follows the
// monotonic clock, takes the wall clock's steps forward, and never goes back.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { steadyClock } from '../src/clock.js';

test('steadyClock runs with the monotonic clock, follows a step forward, ignores a step back', () => {
  let wall = 1_000_000;
  let mono = 50;
  const now = steadyClock(() => wall, () => mono);
  assert.equal(now(), 1_000_000);
  wall += 100;
  mono += 100;
  assert.equal(now(), 1_000_100, 'both clocks ran 100 ms');
  wall -= 3_600_000; // stepped back an hour
  mono += 10;
  assert.equal(now(), 1_000_110, 'a step back is ignored: 10 ms passed');
  wall += 7_200_000; // stepped forward past where it was
  mono += 10;
  assert.equal(now(), wall, 'a step forward is followed: closes come early, never late');
  const before = now();
  wall -= 1;
  assert.ok(now() >= before, 'never goes back');
});
