// Time-based doors in knockd.conf: the Sequence_* keys, their checks, and `check`.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError, parseConfig } from '../src/config/index.js';
import { deriveSequence, encodeBase32, timeStep } from '../src/totp/index.js';
import { timedOf } from './helpers/doors.js';

const CLI = fileURLToPath(new URL('../src/cli.js', import.meta.url));
const SECRET = encodeBase32(Buffer.from('12345678901234567890'));

function errorsOf(text: string): string[] {
  try {
    parseConfig(text, 'k.conf', { requireWritable: false });
  } catch (e) {
    if (e instanceof ConfigError) return e.errors;
    throw e;
  }
  return [];
}

test('a time-based door: secret file relative to the config, defaults, and other doors\' static ports excluded', () => {
  const dir = mkdtempSync(join(tmpdir(), 'knocklog-timed-'));
  try {
    writeFileSync(join(dir, 'ssh.secret'), `  ${SECRET.toLowerCase()}\n`, { mode: 0o600 });
    const conf = join(dir, 'knockd.conf');
    const c = parseConfig('[ssh]\nSequence_Secret_File = ssh.secret\nSequence_Ports = 20000-29999\n'
      + 'Sequence_Exclude = 22000, 25000-25002\n'
      + '[web]\nsequence = 20100,21000:udp,7000\n', conf);
    assert.equal(c.doors[0]!.kind, 'timed');
    assert.deepEqual(timedOf(c.doors[0]), {
      secretHex: Buffer.from('12345678901234567890').toString('hex'), secretFrom: join(dir, 'ssh.secret'), length: 3,
      stepMs: 30_000,
      proto: 'tcp', low: 20000, high: 29999, exclude: [20100, 22000, 25000, 25001, 25002],
    });
    const u = parseConfig(`[u]\nsequence_secret = ${SECRET}\nsequence_ports = 40000-40099:UDP\n`
      + 'sequence_length = 5\nsequence_step = 60\n', conf);
    const ut = timedOf(u.doors[0]);
    assert.deepEqual([ut.proto, ut.length, ut.stepMs], ['udp', 5, 60_000]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('time-based settings that cannot work are errors at their file:line', () => {
  const door = (lines: string) => `[t]\n${lines}\n`;
  const cases: [string, string[]][] = [
    [door(`sequence_secret = ${SECRET}1\nsequence_ports = 20000-29999`),
      ['k.conf:2: Sequence_Secret is not base32 (A-Z and 2-7) (make one with: head -c 20 /dev/urandom | base32)']],
    [door('sequence_secret = MZXW6YTBOI\nsequence_ports = 20000-29999'),
      ['k.conf:2: Sequence_Secret is 6 bytes; at least 16 are needed '
        + '(make one with: head -c 20 /dev/urandom | base32)']],
    [door(`sequence_secret = ${SECRET}\nsequence_ports = 20000-20001`),
      ['k.conf:3: Sequence_Ports 20000-20001 has 2 usable ports, fewer than Sequence_Length 3 '
        + '(use a wider range (thousands of ports make a sequence hard to guess))']],
    [door(`sequence_secret = ${SECRET}\nsequence_ports = 20000-29999\nsequence_step = 0`),
      ['k.conf:4: Sequence_Step 0 is less than 1 second (use a number of seconds from 1 to 2147483)']],
    [door(`sequence_secret = ${SECRET}\nsequence_ports = 20000-29999\nsequence_length = 33`),
      ['k.conf:4: Sequence_Length "33" is not a number from 1 to 32 (use e.g. 3 or 4)']],
    [door(`sequence_secret = ${SECRET}\nsequence_ports = 29999-20000`),
      ['k.conf:3: the range "29999-20000" starts above its end (write the lower port first: 20000-29999)']],
    [door(`sequence_secret = ${SECRET}\nsequence_ports = 20000-70000`),
      ['k.conf:3: "20000-70000" has a port out of range '
        + '(write LOW-HIGH or LOW-HIGH:udp with ports from 1 to 65535, e.g. 20000-29999)']],
    [door(`sequence = 7000,8000\nsequence_secret = ${SECRET}\nsequence_ports = 20000-29999`),
      ['k.conf:2: door [t] has both Sequence and time-based Sequence_* settings (line 3) '
        + '(keep one of them: a time-based door derives its sequence from Sequence_Secret_File)']],
    [door(`sequence_secret = ${SECRET}\nsequence_secret_file = /nonexistent\nsequence_ports = 20000-29999`),
      ['k.conf:3: the door has both Sequence_Secret and Sequence_Secret_File (line 2) '
        + '(keep Sequence_Secret_File: a file of mode 600 keeps the secret out of the config)']],
    [door('sequence_secret_file = /nonexistent/t.secret\nsequence_ports = 20000-29999'),
      ['k.conf:2: secret file /nonexistent/t.secret cannot be read: does not exist '
        + '(create it (chmod 600) holding a base32 secret; make one with: head -c 20 /dev/urandom | base32)']],
    [door('sequence_ports = 20000-29999'),
      ['k.conf:2: door [t] has Sequence_* settings but no Sequence_Secret_File or Sequence_Secret_Dir ' +
        '(add Sequence_Secret_File = /etc/knocklog/t.secret (make one with: head -c 20 /dev/urandom | base32))']],
    [door(`sequence_secret = ${SECRET}`),
      ['k.conf:2: door [t] has a Sequence secret but no Sequence_Ports '
        + '(add a range without services in it, e.g. Sequence_Ports = 20000-29999)']],
    [door(`sequence_secret = ${SECRET}\nsequence_ports = 20000-29999\nsequence_exclude = 22,x`),
      ['k.conf:4: "x" is not a port or a range (list ports and ranges like 22,8000-8100)']],
    [`${door(`sequence_secret = ${SECRET}\nsequence_ports = 20000-29999`)}[u]\n`
      + `sequence_secret = ${SECRET}\nsequence_ports = 29000-30000\n`,
      ["k.conf:4: door [u]'s Sequence_Ports 29000-30000 overlaps door [t]'s 20000-29999 "
        + '(give each time-based door a range of its own)']],
    [`${door(`sequence_secret = ${SECRET}\nsequence_ports = 20000-20003`)}[s]\nsequence = 20000,20001\n`,
      ["k.conf:1: door [t]'s Sequence_Ports 20000-20003 has fewer than 3 ports left beside other doors' ports "
        + '(use a wider range)']],
  ];
  for (const [text, expected] of cases) assert.deepEqual(errorsOf(text), expected, text);
  // The other protocol's range does not overlap.
  assert.deepEqual(errorsOf(`[t]\nsequence_secret = ${SECRET}\nsequence_ports = 20000-29999\n`
    + `[u]\nsequence_secret = ${SECRET}\nsequence_ports = 20000-29999:udp\n`), []);
});

test('a one-time door with ports inside a time-based range is an error (its entries change as they are used)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'knocklog-timed-'));
  try {
    writeFileSync(join(dir, 'ots'), '7000,8000\n20500,9000\n');
    const text = `[t]\nsequence_secret = ${SECRET}\nsequence_ports = 20000-29999\n`
      + `[o]\none_time_sequences = ${join(dir, 'ots')}\n`;
    assert.deepEqual(errorsOf(text), [
      "k.conf:1: door [t]'s Sequence_Ports 20000-29999 holds ports of door [o]'s one_time_sequences "
        + "(choose a range apart from the other doors' ports)",
    ]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('knocklog check: a time-based door\'s summary never shows the secret; '
  + '--show-sequences shows the steps around now', () => {
  const dir = mkdtempSync(join(tmpdir(), 'knocklog-timed-'));
  try {
    writeFileSync(join(dir, 't.secret'), SECRET, { mode: 0o600 });
    const conf = join(dir, 'knockd.conf');
    writeFileSync(conf,
      '[t]\nsequence_secret_file = t.secret\nsequence_ports = 20000-29999:udp\nsequence_step = 3600\n');
    const plain = spawnSync(process.execPath, [CLI, 'check', '-c', conf], { encoding: 'utf8' });
    assert.equal(plain.status, 0, plain.stderr);
    assert.match(plain.stdout,
      /^ {2}sequence {9}time-based, 3 ports of 20000-29999:udp, a new sequence every 3600 s$/m);
    assert.match(plain.stdout, new RegExp(`^  secret {11}${join(dir, 't.secret')}$`, 'm'));
    assert.ok(!plain.stdout.includes(SECRET) && !/current/.test(plain.stdout));
    const before = timeStep(Date.now(), 3_600_000);
    const shown = spawnSync(process.execPath, [CLI, 'check', '--show-sequences', '-c', conf], { encoding: 'utf8' });
    const after = timeStep(Date.now(), 3_600_000);
    assert.equal(shown.status, 0, shown.stderr);
    const current = /^ {2}current {10}(\S+) {2}\(step (\d+), from /m.exec(shown.stdout);
    assert.ok(current !== null, shown.stdout);
    const step = Number(current[2]);
    assert.ok(step >= before && step <= after);
    const text = `[t]\nsequence_secret = ${SECRET}\nsequence_ports = 20000-29999:udp\nsequence_step = 3600\n`;
    const t = timedOf(parseConfig(text, conf).doors[0]);
    assert.equal(current[1], deriveSequence(t, step).map((s) => `${s.port}:udp`).join(','));
    assert.match(shown.stdout, new RegExp(`^  previous {9}\\S+ {2}\\(step ${step - 1}, from `, 'm'));
    assert.match(shown.stdout, new RegExp(`^  next {13}\\S+ {2}\\(step ${step + 1}, from `, 'm'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
