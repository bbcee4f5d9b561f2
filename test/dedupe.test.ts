// One kernel record that reaches the daemon by two sources (kmsg and kern.log,
// journal and a file) is one knock (audit L2): through the real daemon on two
// real files, and the bounded memory that remembers records.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, chmodSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MAX_IDENTITIES, SeenRecords } from '../src/daemon/dedupe.js';
import type { Door, KnockEvent } from '../src/types.js';
import { DaemonProcess, removeDir } from './helpers/daemon.js';
import { actionsOf, lab, live } from './helpers/daemon-lab.js';

const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

test('L2: the same records in two source files, one lagging, count once: '
  + 'the door opens (the audit\'s repro)', async () => {
  const l = lab('dedupe');
  const a = l.kern;
  const b = join(l.dir, 'kern-b.log');
  writeFileSync(b, '');
  chmodSync(b, 0o644);
  const d = new DaemonProcess(['-v', '-c', l.conf, '-s', `file:${a}`, '-s', `file:${b}`, '--state-dir', l.state]);
  let marks = 0;
  /**
   * Appends `line` to `file`, then a knock from a marker address, and waits until the marker counts:
   * `line` was read.
   */
  const append = async (file: string, line: string) => {
    const src = `10.255.0.${++marks}`;
    appendFileSync(file, `${line}\n${live({ t: 0, src, dpt: 7000 })}\n`);
    await d.waitFor(new RegExp(`^${esc(src)}: ssh: Stage 1$`), 2000);
  };
  try {
    await d.waitFor(/^starting up, listening on any interface; reading file:/);
    // A file source starts at the file's end once it reads: until then a marker is not seen.
    for (const file of [a, b]) {
      for (let i = 0; ; i++) {
        try {
          await append(file, '');
          break;
        } catch (e) {
          if (i > 50) throw e;
        }
      }
    }
    const client = '10.0.0.7';
    const [k7, k8, k9] = [7000, 8000, 9000].map((dpt, i) => live({ t: i * 0.01, src: client, dpt }));
    await append(a, k7!);
    await append(a, k8!);
    await append(b, k7!);
    await append(a, k9!);
    await append(b, k8!);
    await append(b, k9!);
    const mine = d.messages().filter((m) => m.startsWith(`${client}: `));
    assert.deepEqual(mine,
      [`${client}: ssh: Stage 1`, `${client}: ssh: Stage 2`, `${client}: ssh: Stage 3`, `${client}: ssh: OPEN SESAME`]);
    await d.waitFor(new RegExp(`^ssh: running command: echo open ${esc(client)} >> `));
    assert.ok(actionsOf(l).includes(`open ${client}`), actionsOf(l).join('\n'));
  } finally {
    await d.stop();
    removeDir(l.dir);
  }
});

const DOORS = [{ seqTimeoutMs: 5000 }, { seqTimeoutMs: 15_000 }] as Door[];
const T0 = 1_800_000_000_000;

function record(o: Partial<KnockEvent> = {}): KnockEvent {
  return {
    time: null, uptime: 9279.394318, host: null, prefix: 'KNOCK', in: 'eth0',
    src: '10.0.0.2', dst: '10.0.0.1', proto: 'tcp', spt: 40000, dpt: 7000, flags: ['SYN'], ...o,
  };
}

test('SeenRecords: a copy is a record with the same uptime stamp, addresses, protocol and ports', () => {
  const seen = new SeenRecords(() => DOORS);
  assert.equal(seen.copy(record(), T0, T0), false);
  assert.equal(seen.copy(record({ host: 'vm', time: '2026-11-30T17:00:00Z', flags: ['SYN'] }), T0, T0 + 50), true);
  // The same stamp written as `[ 9279.394318]` text or as kmsg's microseconds: one value.
  assert.equal(seen.copy(record({ uptime: 9279394318 / 1e6 }), T0, T0 + 60), true);
  for (const other of [{ uptime: 9279.394319 }, { src: '10.0.0.3' }, { dst: '10.0.0.9' }, { proto: 'udp' as const },
    { spt: 40001 }, { dpt: 8000 }]) {
    assert.equal(seen.copy(record(other), T0, T0 + 70), false, JSON.stringify(other));
  }
});

test('SeenRecords: records without an uptime stamp are never taken for copies', () => {
  const seen = new SeenRecords(() => DOORS);
  const stampless = record({ uptime: null, time: '2026-11-30T17:00:00Z' });
  assert.equal(seen.copy(stampless, T0, T0), false);
  assert.equal(seen.copy(stampless, T0, T0), false);
  assert.equal(seen.size, 0);
});

test('SeenRecords: a record is remembered for the longest seq_timeout of the current doors, then forgotten', () => {
  let doors = DOORS;
  const seen = new SeenRecords(() => doors);
  assert.equal(seen.copy(record(), T0, T0), false);
  assert.equal(seen.copy(record(), T0, T0 + 15_000), true, 'within the longest seq_timeout');
  assert.equal(seen.copy(record({ spt: 1 }), T0 + 15_001, T0 + 15_001), false);
  assert.equal(seen.size, 1, 'the first identity was forgotten once no copy of it could count');
  // A stale record (older than every seq_timeout) is not kept.
  assert.equal(seen.copy(record({ spt: 2 }), T0, T0 + 20_000), false);
  assert.equal(seen.size, 1);
  // After a reload the new doors' seq_timeout applies.
  doors = [{ seqTimeoutMs: 60_000 }] as Door[];
  assert.equal(seen.copy(record({ spt: 3 }), T0 + 20_000, T0 + 20_000), false);
  assert.equal(seen.copy(record({ spt: 3 }), T0 + 20_000, T0 + 79_000), true);
});

test('SeenRecords: a flood of distinct records keeps at most MAX_IDENTITIES, forgetting the oldest', () => {
  const seen = new SeenRecords(() => DOORS);
  const n = MAX_IDENTITIES + 1000;
  for (let i = 0; i < n; i++) seen.copy(record({ uptime: 100 + i / 1e6 }), T0, T0);
  assert.equal(seen.size, MAX_IDENTITIES);
  assert.equal(seen.copy(record({ uptime: 100 + (n - 1) / 1e6 }), T0, T0), true, 'the newest is remembered');
  assert.equal(seen.copy(record({ uptime: 100 }), T0, T0), false, 'the oldest was forgotten');
});
