// The engine with per-user secrets (Sequence_Secret_Dir) and address-bound
// sequences (Sequence_Bind), on a fixed clock.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, parseConfig } from '../src/config/index.js';
import { Engine, type EngineOptions } from '../src/engine/index.js';
import { deriveBoundSequence, deriveSequence, encodeBase32 } from '../src/totp/index.js';
import type { Decision, Door, KnockEvent, TimedSequence } from '../src/types.js';
import { stepOf } from './helpers/decisions.js';
import { timedOf } from './helpers/doors.js';

const opts: EngineOptions = { isLocal: () => true, maxSources: 1000, iface: null };
const STEP = 30_000;
const N = 60_000_000;
const at = N * STEP + 10_000;

/** A directory of user secrets and a door on it; `extra` lines go into the door. */
function usersDoor(users: string[], extra = ''): { door: Door; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'knocklog-users-'));
  mkdirSync(join(dir, 'ssh.d'), { mode: 0o700 });
  for (const u of users) {
    const secret = Buffer.from(`${u}'s secret, 32 bytes long.......`).subarray(0, 32);
    writeFileSync(join(dir, 'ssh.d', u), encodeBase32(secret));
  }
  const conf = `[ssh]\nsequence_secret_dir = ssh.d\nsequence_ports = 20000-29999\nseq_timeout = 5\n` +
    `cmd_timeout = 10\nstart_command = a %IP%\nstop_command = d %IP%\n${extra}`;
  const door = parseConfig(conf, join(dir, 'knockd.conf'), { requireWritable: false }).doors[0]!;
  return { door, dir };
}

const secretOf = (t: TimedSequence, user: string) => t.users!.find((u) => u.name === user)!.secretHex;
const portsOf = (t: TimedSequence, user: string, src?: string) => (src === undefined
  ? deriveSequence(t, N, secretOf(t, user)) : deriveBoundSequence(t, N, secretOf(t, user), src)).map((s) => s.port);

let spt = 30000;
function ev(src: string, dpt: number): KnockEvent {
  return {
    time: null, uptime: null, host: null, prefix: 'K', in: 'eth0', src, dst: '10.0.0.1', proto: 'tcp', spt: spt++, dpt,
    flags: ['SYN'],
  };
}
const knockAll = (e: Engine, src: string, ports: number[], t0 = at) =>
  ports.flatMap((p, i) => e.knock(ev(src, p), t0 + i * 100));
const opens = (ds: Decision[]) => ds.flatMap((d) => (d.event === 'open' ? [`${d.user}@${d.src}`] : []));

test('per-user secrets: each user\'s sequence opens once per step, naming the user; the others\' are untouched', () => {
  const { door, dir } = usersDoor(['alice', 'bob']);
  try {
    const t = timedOf(door);
    assert.deepEqual(t.users?.map((u) => u.name), ['alice', 'bob']);
    assert.notDeepEqual(portsOf(t, 'alice'), portsOf(t, 'bob'));
    const e = new Engine([door], opts);
    const first = knockAll(e, '10.0.0.2', portsOf(t, 'alice'));
    assert.deepEqual(opens(first), ['alice@10.0.0.2']);
    assert.equal(first.map(stepOf).find((s) => s !== undefined), N);
    // alice's sequence of step N is used up (from any address); bob's of the same step is not.
    assert.deepEqual(opens(knockAll(e, '10.0.0.3', portsOf(t, 'alice'), at + 1000)), []);
    assert.deepEqual(opens(knockAll(e, '10.0.0.3', portsOf(t, 'bob'), at + 2000)), ['bob@10.0.0.3']);
    assert.deepEqual(e.usedSteps(), [
      { door: 'ssh', user: 'alice', steps: [N] }, { door: 'ssh', user: 'bob', steps: [N] },
    ]);
    // Restored used steps (the daemon's, after a restart) are per user too.
    const again = new Engine([door], opts);
    again.restoreUsed('ssh', [N], 'alice');
    assert.deepEqual(opens(knockAll(again, '10.0.0.4', portsOf(t, 'alice'))), []);
    assert.deepEqual(opens(knockAll(again, '10.0.0.4', portsOf(t, 'bob'), at + 1000)), ['bob@10.0.0.4']);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('address binding: a captured sequence opens nothing from another address; the other\'s own sequence opens', () => {
  const { door, dir } = usersDoor(['alice', 'bob'], 'sequence_bind = address\n');
  try {
    const t = timedOf(door);
    assert.equal(t.bind, 'address');
    const alice = portsOf(t, 'alice', '10.0.0.2');
    assert.equal(alice[0], portsOf(t, 'alice')[0], 'the first port does not depend on the address');
    assert.notDeepEqual(alice.slice(1), portsOf(t, 'alice', '10.0.0.3').slice(1));
    // The attacker knocks first, with what it saw (or will see) of alice's knock: nothing opens.
    const e = new Engine([door], opts);
    assert.deepEqual(opens(knockAll(e, '10.0.0.3', alice)), []);
    assert.deepEqual(opens(knockAll(e, '10.0.0.2', alice, at + 1000)), ['alice@10.0.0.2']);
    // bob's sequence bound to the other address opens for it.
    assert.deepEqual(opens(knockAll(e, '10.0.0.3', portsOf(t, 'bob', '10.0.0.3'), at + 2000)), ['bob@10.0.0.3']);
    const v6 = portsOf(t, 'bob', '2001:db8::3');
    assert.deepEqual(opens(knockAll(e, '2001:db8::3', v6, at + 3000)), [],
      'bob\'s step N is used: single use per user and step');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('after a flood at the cap, a reused attempt keeps its own kind: a bound door\'s candidates, a fixed door\'s none',
  () => {
    const { door, dir } = usersDoor(['alice', 'bob'], 'sequence_bind = address\n');
    try {
      const t = timedOf(door);
      const fixed = parseConfig('[fixed]\nsequence = 7000,8000,9000\nseq_timeout = 5\nstart_command = f %IP%\n',
        join(dir, 'f.conf'), { requireWritable: false }).doors[0]!;
      const e = new Engine([fixed, door], { ...opts, maxSources: 100 });
      // Spoofed first knocks at both doors' first ports: ended attempts of both kinds wait to be reused.
      const first = portsOf(t, 'alice')[0]!;
      for (let n = 0; n < 5000; n++) e.knock(ev(`10.7.${n >> 8}.${n & 255}`, n % 2 === 0 ? first : 7000), at + n * 0.1);
      assert.ok(e.stats().evictions >= 4800, `evictions ${e.stats().evictions}`);
      // The last 100 sources' attempts time out: with the evicted ones, they wait to be reused.
      assert.equal(e.tick(at + 6000).filter((d) => d.event === 'timeout').length, 100);
      // Each kind in turn, on objects that were the other kind's.
      for (const [i, src] of ['10.9.0.1', '10.9.0.2', '10.9.0.3', '10.9.0.4'].entries()) {
        const t0 = at + 7000 + i * 400;
        if (i % 2 === 0) {
          const user = i === 0 ? 'alice' : 'bob';
          assert.deepEqual(opens(knockAll(e, src, portsOf(t, user, src), t0)), [`${user}@${src}`]);
        } else {
          assert.deepEqual(knockAll(e, src, [7000, 8000, 9000], t0).filter((d) => d.event === 'open')
            .map((d) => `${d.door}@${d.src}`), [`fixed@${src}`]);
        }
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

test('the secret directory: stray files, a bound one-port sequence and two secret keys are errors at FILE:LINE', () => {
  const { dir } = usersDoor(['alice']);
  try {
    const errors = (text: string): string[] => {
      try {
        parseConfig(text, join(dir, 'knockd.conf'), { requireWritable: false });
        return [];
      } catch (e) {
        if (e instanceof ConfigError) return e.errors;
        throw e;
      }
    };
    const conf = (extra: string) => `[ssh]\nsequence_secret_dir = ssh.d\nsequence_ports = 20000-29999\n${extra}`;
    assert.deepEqual(errors(conf('')), []);
    writeFileSync(join(dir, 'ssh.d', 'alice~'), 'x');
    writeFileSync(join(dir, 'ssh.d', 'bob'), 'not base32!');
    const stray = errors(conf(''));
    assert.equal(stray.length, 2, stray.join('\n'));
    assert.match(stray[0]!, /knockd\.conf:2: .*ssh\.d\/alice~: "alice~" is not a user name \(name each secret file/);
    assert.match(stray[1]!, /knockd\.conf:2: the secret in .*ssh\.d\/bob is not base32/);
    rmSync(join(dir, 'ssh.d', 'alice~'));
    rmSync(join(dir, 'ssh.d', 'bob'));
    assert.match(errors(conf('sequence_bind = address\nsequence_length = 1\n'))[0] ?? '',
      /knockd\.conf:4: door \[ssh\] has Sequence_Bind but a sequence of one port \(bind a sequence of 2 or more ports/);
    assert.match(errors(conf('sequence_bind = source\n'))[0] ?? '',
      /knockd\.conf:4: Sequence_Bind "source" is not address or none/);
    assert.match(errors(conf('sequence_secret_file = x.secret\n'))[0] ?? '',
      /knockd\.conf:4: the door has both Sequence_Secret_Dir and Sequence_Secret_File \(line 2\) \(keep one/);
    assert.match(errors('[ssh]\nsequence_secret_dir = nowhere\nsequence_ports = 20000-29999\n')[0] ?? '',
      /knockd\.conf:2: secret directory .*nowhere cannot be read: does not exist \(create it \(chmod 700\)/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
