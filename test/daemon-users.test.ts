// Per-user secrets and address-bound sequences in the real daemon, on real
// files: the log and `status` name the user, a removed secret file and SIGHUP
// revoke that user at once, a bound sequence opens nothing from another
// address, and the secret files get the checks of every file the executor trusts.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfig } from '../src/config/index.js';
import { deriveBoundSequence, encodeBase32, timeStep, userRefusal } from '../src/totp/index.js';
import type { TimedSequence } from '../src/types.js';
import { validDecision } from '../src/daemon/protocol.js';
import { cli, removeDir, waitUntil } from './helpers/daemon.js';
import { actionsOf, knock, lab, type Lab, reading, start } from './helpers/daemon-lab.js';
import { timedOf as timedOfDoor } from './helpers/doors.js';

/** A lab with door [users]: a secret per user in `users.d`, bound, hour-long steps (the test stays in its steps). */
function usersLab(name: string, users: string[]): { l: Lab; dir: string } {
  const l = lab(name, `[users]
  sequence_secret_dir = users.d
  sequence_bind = address
  sequence_ports = 20000-29999
  sequence_step = 3600
  seq_timeout = 5
  start_command = echo users-open %IP% >> ACTIONS
  cmd_timeout = 600
  stop_command = echo users-close %IP% >> ACTIONS
`);
  const dir = join(l.dir, 'users.d');
  mkdirSync(dir, { mode: 0o700 });
  for (const u of users) {
    writeFileSync(join(dir, u), `${encodeBase32(Buffer.from(`${u}: a secret of 24 bytes..`))}\n`, { mode: 0o600 });
  }
  writeFileSync(l.conf, readFileSync(l.conf, 'utf8').replaceAll('ACTIONS', l.actions));
  return { l, dir };
}

function timedOf(l: Lab): TimedSequence {
  return timedOfDoor(parseConfig(readFileSync(l.conf, 'utf8'), l.conf).doors.find((d) => d.name === 'users'));
}

function portsFor(t: TimedSequence, user: string, src: string, step = timeStep(Date.now(), t.stepMs)): number[] {
  const u = t.users?.find((x) => x.name === user);
  assert.ok(u !== undefined);
  return deriveBoundSequence(t, step, u.secretHex, src).map((s) => s.port);
}

test('per-user, bound: the log and status name alice; her ports from elsewhere open nothing; rm + SIGHUP revokes her',
  async () => {
  const { l, dir } = usersLab('users', ['alice', 'bob']);
  const t = timedOf(l);
  const step = timeStep(Date.now(), t.stepMs);
  const d = start(l);
  try {
    await reading(l, d);
    const alice = portsFor(t, 'alice', '10.0.0.2', step);
    knock(l, '10.0.0.2', alice);
    // The same ports from another address right after, then bob's knock as a marker: once bob's open
    // is logged, the lines before it were acted on.
    knock(l, '10.0.0.3', alice);
    knock(l, '10.0.0.4', portsFor(t, 'bob', '10.0.0.4', step));
    await d.waitFor(/^bob: 10\.0\.0\.4: users: OPEN SESAME$/);
    assert.ok(d.has(/^alice: 10\.0\.0\.2: users: OPEN SESAME$/), d.messages().join('\n'));
    assert.ok(!d.has(/10\.0\.0\.3: users: OPEN/), 'alice\'s sequence opened for another address');
    const opened = () => actionsOf(l).filter((a) => a.startsWith('users-')).sort();
    await waitUntil('both opens', () => opened().length >= 2);
    assert.deepEqual(opened(), ['users-open 10.0.0.2', 'users-open 10.0.0.4']);

    const status = spawnSync(process.execPath, [cli, 'status', '--state-dir', l.state], { encoding: 'utf8' });
    assert.equal(status.status, 0, status.stderr);
    assert.match(status.stdout, /^DOOR +SOURCE +USER +CLOSES$/m);
    assert.match(status.stdout, /^users +10\.0\.0\.2 +alice +\S+ \(in \d+ s\)$/m);
    assert.match(status.stdout, /^users +10\.0\.0\.4 +bob +/m);
    const json = spawnSync(process.execPath, [cli, 'status', '--state-dir', l.state, '--json'], { encoding: 'utf8' });
    const records = JSON.parse(json.stdout) as { src: string; user?: string }[];
    const listed = records.map((r) => `${r.user}@${r.src}`).sort();
    assert.deepEqual(listed, ['alice@10.0.0.2', 'bob@10.0.0.4']);
    const used = JSON.parse(readFileSync(join(l.state, 'used-steps.json'), 'utf8')) as Record<string, unknown>;
    assert.deepEqual(used['byUser'], { users: { alice: [step], bob: [step] } });

    // Revoke alice: her next step's sequence opens nothing, bob's does.
    rmSync(join(dir, 'alice'));
    d.signal('SIGHUP');
    await d.waitFor(/^the log reader uses the new config, with 2 doors$/);
    knock(l, '10.0.0.2', portsFor(t, 'alice', '10.0.0.2', step + 1));
    knock(l, '10.0.0.4', portsFor(t, 'bob', '10.0.0.4', step + 1));
    await d.waitFor(/^bob: 10\.0\.0\.4: users: OPEN SESAME \(already open: close timer restarted\)$/);
    const aliceOpens = d.messages().filter((m) => /^alice: .*OPEN SESAME/.test(m));
    assert.equal(aliceOpens.length, 1, 'the revoked user opened again');
  } finally {
    await d.stop();
    removeDir(l.dir);
  }
});

test('the executor refuses a user without a secret, a user on a shared door, no user on a per-user door', () => {
  const base: TimedSequence = {
    secretHex: '', secretFrom: '/etc/knocklog/ssh.d', length: 3, stepMs: 30_000, proto: 'tcp', low: 1, high: 9,
    exclude: [],
  };
  const perUser = { ...base, users: [{ name: 'bob', secretHex: 'ab'.repeat(16) }] };
  assert.equal(userRefusal(perUser, 'bob'), null);
  assert.equal(userRefusal(perUser, 'alice'), 'user alice has no secret in /etc/knocklog/ssh.d (revoked?)');
  assert.match(userRefusal(perUser, undefined) ?? '', /names no user/);
  assert.match(userRefusal(base, 'bob') ?? '', /one shared secret, no user bob/);
  assert.equal(userRefusal(base, undefined), null);
});

test('a request names a user by a user name only: anything else (it is logged) is an invalid request', () => {
  const config = parseConfig('[d]\nsequence = 1,2\n', 'k.conf');
  const open = { event: 'open', at: 1, door: 'd', src: '10.0.0.2', step: 5 };
  assert.deepEqual(validDecision({ ...open, user: 'alice' }, config), { ...open, user: 'alice' });
  for (const user of ['alice\n10.0.0.9: d: OPEN SESAME', '../alice', '', 7, 'a'.repeat(65)]) {
    assert.equal(validDecision({ ...open, user }, config), null, JSON.stringify(user));
  }
});

test('secret files are trusted like the executor\'s other files: readable by others, or a group-writable dir, refused',
  async () => {
  const { l, dir } = usersLab('users-trust', ['alice']);
  const cases: [string, () => void, () => void, RegExp][] = [
    ['a secret readable by others',
      () => chmodSync(join(dir, 'alice'), 0o644), () => chmodSync(join(dir, 'alice'), 0o600),
      /the secret file .*users\.d\/alice of door users may be read by other users\. Fix: chmod 600 /],
    ['a directory writable by its group', () => chmodSync(dir, 0o770), () => chmodSync(dir, 0o700),
      /the directory .*users\.d is writable by its group .*Fix: chmod g-w /],
  ];
  try {
    for (const [what, make, undo, reason] of cases) {
      make();
      const d = start(l);
      const status = await d.exitWithin(10_000);
      await d.stop();
      undo();
      assert.equal(status, 1, `${what}: the daemon started`);
      const out = d.stderr + d.messages().join('\n');
      assert.match(out, reason, `${what}: ${out}`);
    }
  } finally {
    removeDir(l.dir);
  }
});
