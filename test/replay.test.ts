// The conformance table of shared/knockd-semantics.md §6, "knocklog" column,
// as replays of real-shaped kern.log lines through the real CLI.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Knock, kernLine, knockTime } from './helpers/klog.js';

const cli = fileURLToPath(new URL('../src/cli.js', import.meta.url));

interface Out {
  time: string | null;
  door: string;
  src: string;
  event: string;
  stage?: number;
}

function replay(conf: string, knocks: Knock[], args: string[] = [], files: Record<string, string> = {}):
  { out: Out[]; stderr: string; status: number | null } {
  const dir = mkdtempSync(join(tmpdir(), 'knocklog-replay-'));
  try {
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
    writeFileSync(join(dir, 'knockd.conf'), conf);
    writeFileSync(join(dir, 'kern.log'), knocks.map((k) => `${kernLine(k)}\n`).join(''));
    const r = spawnSync(process.execPath,
      [cli, 'replay', '-c', join(dir, 'knockd.conf'), ...args, join(dir, 'kern.log')], { encoding: 'utf8' });
    const out = r.stdout.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Out);
    for (const [name, text] of Object.entries(files)) assert.equal(readFileSync(join(dir, name), 'utf8'), text,
      `replay must not write ${name}`);
    return { out, stderr: r.stderr, status: r.status };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const door = (name: string, seq: string, extra = '') =>
  `[${name}]\nsequence = ${seq}\nseq_timeout = 5\n`
  + 'start_command = iptables -I INPUT -s %IP% -p tcp --dport 22 -j ACCEPT\ncmd_timeout = 10\n'
  + `stop_command = iptables -D INPUT -s %IP% -p tcp --dport 22 -j ACCEPT\n${extra}\n`;
const A = door('A', '7000,8000,9000');
const C = '10.77.0.2';
const seq = (src: string, ports: (number | [number, 'udp'])[], t0 = 0, dt = 0.1): Knock[] =>
  ports.map((p, i) => (Array.isArray(p) ? { t: t0 + i * dt, src, dpt: p[0], proto: p[1] }
    : { t: t0 + i * dt, src, dpt: p }));
const events = (out: Out[], kind: string) => out.filter((o) => o.event === kind).map((o) => `${o.door} ${o.src}`);

test('row 1: a mixed TCP/UDP sequence opens, then closes cmd_timeout later', () => {
  const { out, status } = replay(door('A', '7000,8000:udp,9000'), seq(C, [7000, [8000, 'udp'], 9000]));
  assert.equal(status, 0);
  assert.deepEqual(out, [
    { time: knockTime(0), door: 'A', src: C, event: 'stage', stage: 1 },
    { time: knockTime(0.1), door: 'A', src: C, event: 'stage', stage: 2 },
    { time: knockTime(0.2), door: 'A', src: C, event: 'stage', stage: 3 },
    { time: knockTime(0.2), door: 'A', src: C, event: 'open' },
    { time: knockTime(10.2), door: 'A', src: C, event: 'close' },
  ]);
});

test('row 2: a port in no door between the knocks is invisible', () => {
  const { out } = replay(A, seq(C, [7000, 1234, 8000, 9000]));
  assert.deepEqual(events(out, 'open'), [`A ${C}`]);
});

test('row 3: a knock on another door\'s port breaks the sequence', () => {
  const { out } = replay(A + door('B', '6000,6500'), seq(C, [7000, 8000, 6500, 9000]));
  assert.deepEqual(events(out, 'open'), []);
});

test('row 4: a wrong knock that is a first knock restarts the sequence (knockd: nothing opens)', () => {
  const { out } = replay(A, seq(C, [7000, 8000, 7000, 8000, 9000]));
  assert.deepEqual(events(out, 'open'), [`A ${C}`]);
});

test('row 5: the full sequence twice opens once and restarts the close timer', () => {
  const { out } = replay(A, [...seq(C, [7000, 8000, 9000]), ...seq(C, [7000, 8000, 9000], 3)]);
  assert.deepEqual(out.filter((o) => o.event !== 'stage').map((o) => [o.event, o.time]), [
    ['open', knockTime(0.2)],
    ['extend', knockTime(3.2)],
    ['close', knockTime(13.2)],
  ]);
});

test('row 6: doors sharing a first port both get attempts, whatever their order', () => {
  const { out } = replay(door('B', '7000,5555') + A, seq(C, [7000, 8000, 9000]));
  assert.deepEqual(events(out, 'open'), [`A ${C}`]);
});

test('row 7: two sources interleaving their sequences both open', () => {
  const D = '10.77.0.3';
  const ks = seq(C, [7000, 8000, 9000]).flatMap((k, i) =>
    [k, { ...k, src: D, t: k.t + 0.05, dpt: [7000, 8000, 9000][i]! }]);
  const { out } = replay(A, ks);
  assert.deepEqual(events(out, 'open'), [`A ${C}`, `A ${D}`]);
});

test('row 8: seq_timeout 3 s, counted from the first knock with sub-second precision', () => {
  const conf = door('A', '7000,8000,9000', 'seq_timeout = 3').replace('seq_timeout = 5\n', '');
  assert.deepEqual(events(replay(conf, seq(C, [7000, 8000, 9000], 0, 1.3)).out, 'open'), [`A ${C}`]);
  const late = replay(conf, seq(C, [7000, 8000, 9000], 0, 1.55)).out;
  assert.deepEqual(events(late, 'open'), []);
  // The timeout is decided at first + 3 s, not when a later packet arrives.
  assert.deepEqual(late.find((o) => o.event === 'timeout'),
    { time: knockTime(3), door: 'A', src: C, event: 'timeout', stage: 2 });
});

test('row 9: TCPFlags = syn: an ACK to a sequence port in between is ignored', () => {
  const ks = seq(C, [7000, 8000, 9000]);
  ks.splice(1, 0, { t: 0.05, src: C, dpt: 9000, flags: ['ACK'] });
  assert.deepEqual(events(replay(door('A', '7000,8000,9000', 'tcpflags = syn'), ks).out, 'open'), [`A ${C}`]);
});

test('row 10: Target: knocks to another local address are ignored', () => {
  const conf = door('A', '7000,8000,9000', 'target = 10.0.0.50');
  assert.deepEqual(events(replay(conf, seq(C, [7000, 8000, 9000]).map((k) => ({ ...k, dst: '10.77.0.1' }))).out,
    'open'), []);
  assert.deepEqual(events(replay(conf, seq(C, [7000, 8000, 9000]).map((k) => ({ ...k, dst: '10.0.0.50' }))).out,
    'open'), [`A ${C}`]);
});

test('row 11: one_time_sequences: each line opens once, the third success disables the door; '
  + 'the file is not written', () => {
  const conf = '[OT]\none_time_sequences = seqs\nstart_command = true\ncmd_timeout = 1\n';
  const seqs = '7100,7200\n7300,7400\n7500,7600\n';
  const { out, status } = replay(conf, [
    ...seq(C, [7100, 7200], 0), ...seq(C, [7100, 7200], 2), ...seq(C, [7300, 7400], 4), ...seq(C, [7500, 7600], 6),
  ], [], { seqs });
  assert.equal(status, 0);
  // No stop_command: nothing to close, so no close event.
  assert.deepEqual(out.filter((o) => o.event !== 'stage').map((o) => o.event), ['open', 'open', 'open', 'disable']);
});

test('a retransmitted SYN (same source port) does not break the sequence (knockd issues #72, #90, #92)', () => {
  const ks = seq(C, [7000, 8000, 9000]).map((k, i) => ({ ...k, spt: 50000 + i }));
  ks.splice(2, 0, { ...ks[1]!, t: 0.15 });
  assert.deepEqual(events(replay(A, ks).out, 'open'), [`A ${C}`]);
});

test('IPv6 sources come out in canonical form; --local limits the destinations', () => {
  const v6 = 'fd31::2';
  const ks = seq(v6, [7000, 8000, 9000]).map((k) => ({ ...k, dst: 'fd31::1' }));
  assert.deepEqual(events(replay(A, ks).out, 'open'), [`A ${v6}`]);
  assert.deepEqual(events(replay(A, ks, ['--local', 'fd31::1']).out, 'open'), [`A ${v6}`]);
  assert.deepEqual(events(replay(A, ks, ['--local', '10.77.0.1,fd31::9']).out, 'open'), []);
});

test('replay reports a bad --local or config with exit 1', () => {
  const r = replay(A, [], ['--local', 'nonsense']);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /--local: "nonsense" is not an IP address/);
  const bad = replay('[A]\nsequence = 7000,abc\n', []);
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /knockd\.conf:2: /);
});

test('a log mixing syslog-stamped and dmesg lines keeps absolute times once the boot time is known', () => {
  const ks = seq(C, [7000, 8000, 9000]);
  const dir = mkdtempSync(join(tmpdir(), 'knocklog-replay-'));
  try {
    writeFileSync(join(dir, 'knockd.conf'), A);
    // The second and third knocks as dmesg prints them: the [uptime] stamp only.
    const lines = ks.map((k, i) => (i === 0 ? kernLine(k) : kernLine(k).replace(/^\S+ vm kernel: /, '')));
    writeFileSync(join(dir, 'mixed.log'), `${lines.join('\n')}\n`);
    const r = spawnSync(process.execPath, [cli, 'replay', '-c', join(dir, 'knockd.conf'), join(dir, 'mixed.log')],
      { encoding: 'utf8' });
    const out = r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Out);
    assert.deepEqual(out.map((o) => [o.event, o.time]), [
      ['stage', knockTime(0)], ['stage', knockTime(0.1)], ['stage', knockTime(0.2)], ['open', knockTime(0.2)],
      ['close', knockTime(10.2)],
    ]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("knockd's stock config: open, close, open again within 10 s runs all three commands", () => {
  const conf = readFileSync(fileURLToPath(new URL('../../test/fixtures/config/seed-openssh.conf', import.meta.url)),
    'utf8');
  const open = [7000, 8000, 9000];
  const { out, status } = replay(conf, [...seq(C, open), ...seq(C, [9000, 8000, 7000], 2), ...seq(C, open, 4)]);
  assert.equal(status, 0);
  // (The last 9000 also starts closeSSH, which times out: not shown.)
  const shown = out.filter((o) => ['open', 'extend', 'close'].includes(o.event));
  assert.deepEqual(shown.map((o) => [o.event, o.door, o.time]), [
    ['open', 'openSSH', knockTime(0.2)], ['open', 'closeSSH', knockTime(2.2)], ['open', 'openSSH', knockTime(4.2)],
  ]);
});

test('martian sources open nothing (audit L9)', () => {
  // ::ffff:a4d:9 is ::ffff:10.77.0.9 (the helper writes IPv6 in full from hex groups).
  const martians = ['0.0.0.0', '255.255.255.255', '224.0.0.1', '127.0.0.1', '::', 'ff02::1', '::ffff:a4d:9'];
  const ks = [...martians.flatMap((m, i) => seq(m, [7000, 8000, 9000], i)), ...seq(C, [7000, 8000, 9000], 9)];
  const { out, status } = replay(A, ks);
  assert.equal(status, 0);
  const only = ['stage', 'stage', 'stage', 'open', 'close'].map((e) => `${e} ${C}`);
  assert.deepEqual(out.map((o) => `${o.event} ${o.src}`), only);
});

test('a knock stamped before 1970 opens no time-based door, and the rest of the log is replayed (audit L8)', () => {
  const secret = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ';
  const conf = `${A}[T]\nsequence_secret = ${secret}\nsequence_ports = 20000-29999\nstart_command = true\n`;
  const dir = mkdtempSync(join(tmpdir(), 'knocklog-replay-'));
  try {
    writeFileSync(join(dir, 'knockd.conf'), conf);
    // The audit's line: an ISO stamp in 1969, no [uptime]; then a client's sequence.
    const old = kernLine({ t: 0, src: '10.77.0.9', dpt: 25000 })
      .replace(/^\S+ vm kernel: \[[ \d.]+\] /, '1969-12-31T23:59:00Z vm kernel: ');
    const lines = [old, ...seq(C, [7000, 8000, 9000]).map((k) => kernLine(k))];
    writeFileSync(join(dir, 'kern.log'), `${lines.join('\n')}\n`);
    const r = spawnSync(process.execPath, [cli, 'replay', '-c', join(dir, 'knockd.conf'), join(dir, 'kern.log')],
      { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /^knocklog replay: 4 lines, 4 knock records/);
    const out = r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as Out);
    assert.deepEqual(events(out, 'open'), [`A ${C}`]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
