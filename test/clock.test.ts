// SteadyClock: the executor's clock for closing doors (and LiveTime, the reader's). It follows the
// monotonic clock, takes the wall clock's steps forward, and never goes back.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LiveTime, SteadyClock } from '../src/clock.js';
import { parseConfig } from '../src/config/index.js';
import { Engine } from '../src/engine/index.js';
import type { KnockEvent } from '../src/types.js';

test('SteadyClock runs with the monotonic clock, follows a step forward, ignores a step back', () => {
  let wall = 1_000_000;
  let mono = 50;
  const clock = new SteadyClock(() => wall, () => mono);
  const now = () => clock.read().now;
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

const knockAt = (uptime: number): KnockEvent => ({
  time: null, uptime, host: null, prefix: 'KNOCK', in: 'eth0', src: '10.0.0.2', dst: '10.0.0.1',
  proto: 'tcp', spt: 40000, dpt: 7000, flags: ['SYN'],
});

test('LiveTime: after the wall clock steps forward (NTP on a host without an RTC), a fresh knock is fresh', () => {
  // The reader placed kernel uptime stamps on the boot time it read at its start: after a step forward of an
  // hour every knock looked an hour old on arrival, was dropped as stale, and no door opened until a restart.
  let wall = 1_700_000_000_000;
  let mono = 60_000; // the kernel's uptime stamps count CLOCK_MONOTONIC
  const time = new LiveTime(() => wall, () => mono);
  const before = time.arrival();
  assert.equal(time.at(knockAt(mono / 1000)), before);
  wall += 3_600_000 + 5;
  mono += 5;
  const arrived = time.arrival();
  assert.equal(arrived, wall);
  assert.equal(time.at(knockAt(mono / 1000)), arrived, 'the knock happened as it arrived, not an hour ago');
  assert.equal(time.at(knockAt((mono - 2000) / 1000)), arrived - 2000, 'a knock 2 s old is 2 s old');
});

test('LiveTime: a line with only an absolute time is taken at its word', () => {
  const time = new LiveTime(() => 5_000_000, () => 1000);
  const ev = { ...knockAt(0), uptime: null, time: '2026-11-30T12:00:00.000Z' };
  time.arrival();
  assert.equal(time.at(ev), Date.parse('2026-11-30T12:00:00.000Z'));
  assert.equal(time.at({ ...ev, time: null }), null);
});

test('LiveTime: after the wall clock steps back, seq_timeout still counts as time really passes', () => {
  // The reader's clock followed a step back: attempts begun before it kept their deadlines on the later scale,
  // and a sequence knocked over 120 s opened a door whose seq_timeout is 5 s.
  const doors = parseConfig('[A]\nsequence = 7000,8000,9000\nseq_timeout = 5\n', '/etc/knockd.conf',
    { requireWritable: false }).doors;
  const engine = new Engine(doors, { isLocal: () => true, maxSources: 100, iface: null });
  let wall = 1_700_000_000_000;
  let mono = 60_000;
  const time = new LiveTime(() => wall, () => mono);
  const knock = (dpt: number) => {
    const arrived = time.arrival();
    const at = time.at({ ...knockAt(mono / 1000), dpt })!;
    return engine.knock({ ...knockAt(mono / 1000), dpt }, at, arrived).map((d) => d.event);
  };
  assert.deepEqual(knock(7000), ['stage']);
  wall -= 3_600_000; // stepped back an hour
  wall += 60_000;
  mono += 60_000;
  // The reader's timer ticks the engine on the same clock: the attempt timed out 55 s ago.
  assert.deepEqual(engine.tick(time.now()).map((d) => d.event), ['timeout']);
  assert.deepEqual(knock(8000), [], 'not a first knock: nothing');
  wall += 60_000;
  mono += 60_000;
  assert.deepEqual(knock(9000), [], 'nothing opens');
});

test('LiveTime: after a step back, a line stamped with the wall time lands on the same clock as the arrival', () => {
  let wall = 1_700_000_000_000;
  let mono = 60_000;
  const time = new LiveTime(() => wall, () => mono);
  time.arrival();
  wall -= 3_600_000;
  wall += 1000;
  mono += 1000;
  const arrived = time.arrival();
  assert.equal(time.lead, 3_600_000, 'the reader\'s clock runs an hour ahead of the wall clock now');
  const stamped = { ...knockAt(0), uptime: null, time: new Date(wall - 200).toISOString() };
  assert.equal(time.at(stamped), arrived - 200, 'a knock 200 ms old is 200 ms old');
  assert.equal(time.at(knockAt((mono - 200) / 1000)), arrived - 200, 'and so is one with an uptime stamp');
});
