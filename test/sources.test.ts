// Live sources against real files, real processes and the real /dev/kmsg.
// Every wait is for a condition (with a generous timeout), never for a time.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  chmodSync, constants, closeSync, copyFileSync, existsSync, ftruncateSync, mkdirSync, mkdtempSync, openSync,
  readFileSync, renameSync, rmSync, unlinkSync, writeFileSync, writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { parseLine } from '../src/parse/index.js';
import { RecordingLog, until } from './helpers/recording-log.js';
import { openSource, type Source, type SourceOptions } from '../src/sources/index.js';
import { LONG_LINE } from '../src/sources/lines.js';
import { foreignProgram } from '../src/sources/provenance.js';

const FAST_RETRY = { minMs: 20, maxMs: 200 };

interface Running {
  source: Source;
  lines: string[];
  log: RecordingLog;
  ended: () => boolean;
}

/** Sources started by the running test: stopped when it ends, also when it fails. */
const live = new Set<Source>();

function run(spec: string, opts: Partial<SourceOptions> = {}): Running {
  const log = new RecordingLog();
  const source = openSource(spec, { stateDir: null, log, retry: FAST_RETRY, ...opts });
  live.add(source);
  const lines: string[] = [];
  let ended = false;
  source.start(
    (batch) => lines.push(...batch),
    () => (ended = true),
  );
  return { source, lines, log, ended: () => ended };
}

/** Runs a test in a fresh temporary directory; removes it and stops the test's sources afterwards. */
async function withTmp(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'knocklog-sources-'));
  try {
    await fn(dir);
  } finally {
    await Promise.all([...live].map((s) => s.stop()));
    live.clear();
    rmSync(dir, { recursive: true, force: true });
  }
}

const numbered = (from: number, to: number, tag = 'line'): string[] =>
  Array.from({ length: to - from }, (_, i) => `${tag}-${from + i} ü€`);

/** Appends lines through an open descriptor, in a few writes, as a logger does. */
function append(fd: number, lines: string[]): void {
  for (let i = 0; i < lines.length; i += 7) writeSync(fd, lines.slice(i, i + 7).map((l) => `${l}\n`).join(''));
}

async function delivered(r: Running, want: string[]): Promise<void> {
  await until(`${want.length} lines (have ${r.lines.length}: ${r.log.messages.join(' | ')})`,
    () => r.lines.length >= want.length);
  assert.deepEqual(r.lines, want);
}

const started = (r: Running) => until('the source to start', () => r.log.has(/reading .* from byte/));

/** Stops `r`, appends lines `from`..`from + 50` meanwhile, and checks that a new source resumes with exactly those. */
async function resumes(r: Running, spec: string, state: string, fd: number, from: number): Promise<void> {
  await r.source.stop();
  append(fd, numbered(from, from + 50));
  const again = run(spec, { stateDir: state });
  await delivered(again, numbered(from, from + 50));
}

test('file: appended lines come in order; lines there before the start do not', () =>
  withTmp(async (dir) => {
    const path = join(dir, 'kern.log');
    writeFileSync(path, numbered(0, 10, 'before').map((l) => `${l}\n`).join(''));
    const r = run(`file:${path}`);
    await started(r);
    const fd = openSync(path, 'a');
    append(fd, numbered(0, 500));
    await delivered(r, numbered(0, 500));
    closeSync(fd);
  }));

test('file: rename rotation while the writer still appends to the old file until it reopens', () =>
  withTmp(async (dir) => {
    const path = join(dir, 'kern.log');
    let fd = openSync(path, 'a');
    const r = run(`file:${path}`, { stateDir: dir });
    await started(r);
    append(fd, numbered(0, 300));
    await delivered(r, numbered(0, 300));
    renameSync(path, `${path}.1`);
    closeSync(openSync(path, 'a')); // logrotate's `create`: the new file exists, empty
    append(fd, numbered(300, 600)); // the logger has not reopened yet
    await delivered(r, numbered(0, 600));
    closeSync(fd);
    fd = openSync(path, 'a'); // the logger's HUP
    append(fd, numbered(600, 900));
    await delivered(r, numbered(0, 900));
    assert.ok(r.log.has(/replaced \(rotated\)/));
    await resumes(r, `file:${path}`, dir, fd, 900); // the saved position is in the new file
    closeSync(fd);
  }));

test('file: copytruncate (lines written within about a millisecond of the truncation would be lost; '
  + 'the writer pauses around it here)', () =>
  withTmp(async (dir) => {
    const path = join(dir, 'kern.log');
    const fd = openSync(path, 'a');
    const r = run(`file:${path}`, { stateDir: dir });
    await started(r);
    append(fd, numbered(0, 200));
    await delivered(r, numbered(0, 200));
    copyFileSync(path, `${path}.1`);
    ftruncateSync(fd, 0);
    await until('the truncation to be seen', () => r.log.has(/truncated/));
    append(fd, numbered(200, 400)); // O_APPEND: written from byte 0 again
    await delivered(r, numbered(0, 400));
    await resumes(r, `file:${path}`, dir, fd, 400);
    closeSync(fd);
  }));

test('file: deleted, then created again later', () =>
  withTmp(async (dir) => {
    const path = join(dir, 'kern.log');
    let fd = openSync(path, 'a');
    const r = run(`file:${path}`);
    await started(r);
    append(fd, numbered(0, 100));
    await delivered(r, numbered(0, 100));
    closeSync(fd);
    unlinkSync(path);
    fd = openSync(path, 'a');
    append(fd, numbered(100, 200));
    await delivered(r, numbered(0, 200));
    closeSync(fd);
  }));

test('file: missing at start, created later: read from its start', () =>
  withTmp(async (dir) => {
    const path = join(dir, 'kern.log');
    const r = run(`file:${path}`);
    await until('the missing file to be reported', () => r.log.has(/does not exist: waiting/));
    const fd = openSync(path, 'a');
    append(fd, numbered(0, 100));
    await delivered(r, numbered(0, 100));
    closeSync(fd);
  }));

test('file: its directory missing at start (fs.watch fails): reported, retried, then read', () =>
  withTmp(async (dir) => {
    const path = join(dir, 'later', 'kern.log');
    const r = run(`file:${path}`);
    await until('the watch failure to be reported',
      () => r.log.has(/error: .*directory .*later does not exist.*trying again/));
    mkdirSync(join(dir, 'later'));
    const fd = openSync(path, 'a');
    append(fd, numbered(0, 50));
    await delivered(r, numbered(0, 50));
    closeSync(fd);
  }));

test('file: a read error is reported and the tailer rebuilt after a delay '
  + '(here the path is a directory at first)', () =>
  withTmp(async (dir) => {
    const path = join(dir, 'kern.log');
    mkdirSync(path);
    const r = run(`file:${path}`);
    await until('the read error', () => r.log.has(/error: file:.*EISDIR.*trying again in/));
    rmSync(path, { recursive: true });
    const fd = openSync(path, 'a');
    append(fd, numbered(0, 20));
    await delivered(r, numbered(0, 20));
    closeSync(fd);
  }));

test('file: resumes after stop() without loss or duplicates; lines written while stopped come first', () =>
  withTmp(async (dir) => {
    const path = join(dir, 'kern.log');
    const state = join(dir, 'state');
    mkdirSync(state);
    const fd = openSync(path, 'a');
    const a = run(`file:${path}`, { stateDir: state });
    await started(a);
    append(fd, numbered(0, 100));
    await delivered(a, numbered(0, 100));
    await a.source.stop();
    const saved = JSON.parse(readFileSync(join(state, `pos-file%3a${path.replaceAll('/', '%2f')}.json`), 'utf8'));
    assert.equal(saved.path, path);
    assert.equal(saved.offset, readFileSync(path).length); // bytes, not characters
    append(fd, numbered(100, 150));
    const b = run(`file:${path}`, { stateDir: state });
    await started(b);
    append(fd, numbered(150, 200));
    await delivered(b, numbered(100, 200));
    closeSync(fd);
  }));

test('file: resumes in the rotated file when the log was rotated while stopped', () =>
  withTmp(async (dir) => {
    const path = join(dir, 'kern.log');
    const state = join(dir, 'state');
    mkdirSync(state);
    let fd = openSync(path, 'a');
    const a = run(`file:${path}`, { stateDir: state });
    await started(a);
    append(fd, numbered(0, 50));
    await delivered(a, numbered(0, 50));
    await a.source.stop();
    append(fd, numbered(50, 80)); // after the stop, before the rotation
    closeSync(fd);
    renameSync(path, `${path}.1`);
    fd = openSync(path, 'a');
    append(fd, numbered(80, 120));
    const b = run(`file:${path}`, { stateDir: state });
    await started(b);
    append(fd, numbered(120, 150));
    await delivered(b, numbered(50, 150));
    closeSync(fd);
  }));

test('file: rotated while stopped and the old file gone: warned, the new file read from its start', () =>
  withTmp(async (dir) => {
    const path = join(dir, 'kern.log');
    const state = join(dir, 'state');
    mkdirSync(state);
    let fd = openSync(path, 'a');
    const a = run(`file:${path}`, { stateDir: state });
    await started(a);
    append(fd, numbered(0, 10));
    await delivered(a, numbered(0, 10));
    await a.source.stop();
    closeSync(fd);
    renameSync(path, `${path}-20261125`); // dateext: not kern.log.1
    fd = openSync(path, 'a');
    append(fd, numbered(10, 20));
    const b = run(`file:${path}`, { stateDir: state });
    await delivered(b, numbered(10, 20));
    assert.ok(b.log.has(/warn: .*was replaced while knocklog was not reading it/));
    closeSync(fd);
  }));

test('file: a UTF-8 character split across two writes arrives whole', () =>
  withTmp(async (dir) => {
    const path = join(dir, 'kern.log');
    const fd = openSync(path, 'a');
    const r = run(`file:${path}`);
    await started(r);
    const line = Buffer.from('split 😀 é\n');
    const cut = line.indexOf(Buffer.from('😀')) + 2; // inside the 4-byte character
    writeSync(fd, Buffer.concat([Buffer.from('first\n'), line.subarray(0, cut)]));
    await until('the first line', () => r.lines.length === 1); // the half character has been read too
    writeSync(fd, line.subarray(cut));
    await delivered(r, ['first', 'split 😀 é']);
    closeSync(fd);
  }));

test('file: an all-facility file, or lines from other programs, are warned about once', () =>
  withTmp(async (dir) => {
    const syslog = run('file:/var/log/syslog');
    await until('the all-facility warning',
      () => syslog.log.has(/warn: file:\/var\/log\/syslog receives the messages of all programs/));
    await syslog.source.stop();

    const path = join(dir, 'mixed.log');
    const fd = openSync(path, 'a');
    const r = run(`file:${path}`);
    await started(r);
    const kernel = 'Nov 24 23:21:32 vm kernel: [ 9279.394318] KNOCK IN=kls0 OUT= SRC=10.231.0.2 DST=10.231.0.1';
    append(fd, [kernel, kernel]);
    await delivered(r, [kernel, kernel]);
    assert.ok(!r.log.has(/^warn/));
    const sshd = 'Nov 24 23:21:33 vm sshd[812]: Accepted publickey for root';
    append(fd, [sshd, sshd]);
    await delivered(r, [kernel, kernel, sshd, sshd]);
    assert.equal(r.log.messages.filter((m) => /other than the kernel \(e\.g\. "sshd"\)/.test(m)).length, 1);
    closeSync(fd);
  }));

test('foreignProgram: the syslog tag decides; kernel and ulogd2 LOGEMU lines pass', () => {
  assert.equal(foreignProgram('Nov 24 23:21:32 vm kernel: [ 9279.394318] KNOCK IN=kls0'), null);
  assert.equal(foreignProgram('2026-11-24T23:20:13.025185+00:00 vm kernel: [ 3859.672000] KNOCK IN=vsrv'), null);
  assert.equal(foreignProgram('Nov 24 21:51:23 vm KNOCK IN=vsrv OUT= MAC=26:0d'), null);
  assert.equal(foreignProgram('Nov 24 21:51:23 vm FW: IN=vsrv OUT= MAC=26:0d'), null);
  assert.equal(foreignProgram('Nov  4 21:51:23 vm CRON[77]: (root) CMD (true)'), 'CRON');
  assert.equal(foreignProgram('2026-11-24T23:20:13.025185+00:00 vm root: KNOCK IN=vsrv'), 'root');
  assert.equal(foreignProgram('[ 3859.672000] KNOCK IN=vsrv'), null);
});

test('openSource: unknown specs are refused with what is accepted', () => {
  const opts: SourceOptions = { stateDir: null, log: new RecordingLog() };
  assert.throws(() => openSource('kern.log', opts),
    /unknown source "kern.log": use file:PATH .*journal, kmsg or stdin/);
  assert.throws(() => openSource('file:', opts), /names no file/);
  assert.equal(openSource('file:/var/log/kern.log', opts).name, 'file:/var/log/kern.log');
});

test('stdin: batches of lines, a split character whole, then the end', () =>
  withTmp(async () => {
  const input = new PassThrough();
  const r = run('stdin', { stdin: input });
  const text = Buffer.from('one\ntwo é\nthree');
  input.write(text.subarray(0, 9)); // cuts é
  input.end(text.subarray(9));
  await until('the end', r.ended);
  assert.deepEqual(r.lines, ['one', 'two é', 'three']);
  }));

/** 100 MiB of one line without a newline, in 1 MiB blocks. */
const LONG_LINE_MIB = 100;
const LONG_BLOCK = Buffer.alloc(1 << 20, 'x');
const KNOCK_AFTER = 'Nov 24 23:21:32 vm kernel: [ 9279.394318] KNOCK IN=eth0 OUT= SRC=10.0.0.2 DST=10.0.0.1 LEN=60 ' +
  'PROTO=TCP SPT=1 DPT=7000 SYN';

/** The lines after a 100 MiB one: that line cut to LONG_LINE bytes (still too long to parse), the next one whole. */
function afterLongLine(lines: string[]): void {
  assert.equal(lines.length, 2);
  assert.equal(lines[0], 'x'.repeat(LONG_LINE));
  assert.equal(parseLine(lines[0]!, { prefix: 'KNOCK', format: 'kernel', now: new Date() }).ok, false);
  assert.equal(lines[1], KNOCK_AFTER);
}

// Before: the whole line was kept and copied (stdin: 104 s), or searched again after every 4 KiB read (file:).
// The bound (20 s) catches that; the line now takes a second or two.
const LONG_LINE_TIMEOUT = { timeout: 20_000 };

test('stdin: a 100 MiB line without a newline is cut and skipped in one pass; then a line', LONG_LINE_TIMEOUT, () =>
  withTmp(async () => {
    // In 64 KiB pieces, as a pipe gives them.
    async function* input(): AsyncGenerator<Buffer> {
      for (let i = 0; i < LONG_LINE_MIB * 16; i++) yield LONG_BLOCK.subarray(0, 1 << 16);
      yield Buffer.from(`\n${KNOCK_AFTER}\n`);
    }
    const r = run('stdin', { stdin: Readable.from(input()) });
    await until('the end', r.ended, 20_000);
    afterLongLine(r.lines);
  }));

test('file: a 100 MiB line without a newline is cut and skipped in one pass; then a line', LONG_LINE_TIMEOUT, () =>
  withTmp(async (dir) => {
    const path = join(dir, 'kern.log');
    writeFileSync(path, '');
    const r = run(`file:${path}`);
    await started(r);
    const fd = openSync(path, 'a');
    for (let i = 0; i < LONG_LINE_MIB; i++) writeSync(fd, LONG_BLOCK);
    writeSync(fd, `\n${KNOCK_AFTER}\n`);
    closeSync(fd);
    await until('the line after the long one', () => r.lines.length >= 2, 20_000);
    afterLongLine(r.lines);
  }));

/**
 * A journalctl stand-in: the first run prints two records and exits 3; later runs print what follows the cursor
 * and keep running.
 */
function fakeJournalctl(dir: string): { command: string; calls: () => string[] } {
  const calls = join(dir, 'calls');
  const command = join(dir, 'journalctl');
  writeFileSync(
    command,
    `#!/bin/sh
echo "$*" >> '${calls}'
case "$*" in
*--after-cursor=c2*) echo '{"__CURSOR":"c3","_TRANSPORT":"kernel","MESSAGE":"three"}'; exec sleep 600;;
*--after-cursor=c3*) echo '{"__CURSOR":"c4","_TRANSPORT":"kernel","MESSAGE":"four"}'; exec sleep 600;;
esac
printf '%s\\n' '{"__CURSOR":"c1","_TRANSPORT":"kernel","MESSAGE":"one"}' `
      + `'{"__CURSOR":"c2","_TRANSPORT":"kernel","MESSAGE":"two"}'
echo 'fake journalctl: the journal went away' >&2
exit 3
`,
  );
  chmodSync(command, 0o755);
  return { command, calls: () => (existsSync(calls) ? readFileSync(calls, 'utf8').trim().split('\n') : []) };
}

test('journal: journalctl exiting is reported and it is started again after the last cursor; '
  + 'a restart resumes from the saved cursor', () =>
  withTmp(async (dir) => {
    const fake = fakeJournalctl(dir);
    const state = join(dir, 'state');
    mkdirSync(state);
    const a = run('journal', { journalctl: fake.command, stateDir: state });
    await until('three records', () => a.lines.length === 3);
    assert.deepEqual(a.lines.map((l) => JSON.parse(l).MESSAGE), ['one', 'two', 'three']);
    assert.ok(a.log.has(
      /error: journal: .*journalctl exited with status 3: fake journalctl: the journal went away; trying again/));
    assert.deepEqual(fake.calls(), ['-k -f -q -o json -n 0', '-k -f -q -o json --after-cursor=c2']);
    await a.source.stop();

    const b = run('journal', { journalctl: fake.command, stateDir: state });
    await until('the record after the saved cursor', () => b.lines.length === 1);
    assert.equal(JSON.parse(b.lines[0]!).MESSAGE, 'four');
    assert.equal(fake.calls()[2], '-k -f -q -o json --after-cursor=c3');
  }));

test('journal: a missing journalctl is reported clearly and retried', () =>
  withTmp(async () => {
    const r = run('journal', { journalctl: '/nonexistent/journalctl' });
    await until('two attempts',
      () => r.log.messages.filter((m) => /was not found: install systemd's journalctl/.test(m)).length >= 2);
  }));

const canKmsg = (() => {
  if (process.getuid?.() !== 0) return 'needs root to write /dev/kmsg and create a network namespace';
  try {
    closeSync(openSync('/dev/kmsg', 'r+'));
    execFileSync('ip', ['netns', 'list']);
    execFileSync('iptables', ['--version']);
    closeSync(openSync('/proc/sys/net/netfilter/nf_log_all_netns', 'r+'));
  } catch (e) {
    return `cannot use /dev/kmsg, ip netns or iptables, or set net.netfilter.nf_log_all_netns: ${(e as Error).message}`;
  }
  return null;
})();

if (canKmsg !== null) {
  if (process.env['KNOCKLOG_REQUIRE_E2E'] === '1') test('kmsg: real /dev/kmsg',
    () => assert.fail(`cannot run: ${canKmsg}`));
  else console.log(`# skipping the kmsg test: ${canKmsg}`);
}

test('kmsg: real kernel firewall records pass; userspace writes to /dev/kmsg (facility user) '
  + 'and older records do not', { skip: canKmsg ?? false }, async () => {
  const tag = `KLS${process.pid}`;
  const ns = `knocklog-sources-${process.pid}`;
  // As the lab does (and leaves set): else the kernel logs firewall records of the initial namespace only.
  writeFileSync('/proc/sys/net/netfilter/nf_log_all_netns', '1\n');
  writeFileSync('/dev/kmsg', `<4>${tag}OLD IN=lo OUT= SRC=10.9.9.9 (before the start)\n`);
  execFileSync('ip', ['netns', 'add', ns]);
  try {
    const ipns = (...args: string[]) => execFileSync('ip', ['netns', 'exec', ns, ...args]);
    ipns('ip', 'link', 'set', 'lo', 'up');
    ipns('iptables', '-A', 'INPUT', '-p', 'udp', '--dport', '7', '-j', 'LOG', '--log-prefix', `${tag} `);
    // Opened as a privileged parent would, and passed on.
    const fd = openSync('/dev/kmsg', constants.O_RDONLY | constants.O_NONBLOCK);
    const r = run('kmsg', { kmsgFd: fd });
    try {
      await until('the older records to be skipped', () => r.log.has(/kmsg: skipped \d+ older records/));
      // A forged record first, then a real one: once the real one is seen, the forged one was read and dropped.
      writeFileSync('/dev/kmsg', `<4>${tag} IN=lo OUT= SRC=10.6.6.6 DST=10.6.6.6 forged\n`);
      ipns('node', '-e', "require('dgram').createSocket('udp4').send('x', 7, '127.0.0.1', (e, n) => process.exit(0))");
      await until('the kernel record', () => r.lines.some((l) => l.includes(tag)));
      const ours = r.lines.filter((l) => l.includes(tag));
      assert.equal(ours.length, 1, ours.join('\n'));
      assert.match(ours[0]!, new RegExp(`^[0-7],\\d+,\\d+,[^;]*;${tag} IN=lo OUT= `
        + '.*SRC=127\\.0\\.0\\.1 DST=127\\.0\\.0\\.1 .*PROTO=UDP SPT=\\d+ DPT=7 '));
    } finally {
      await r.source.stop();
      closeSync(fd);
    }
  } finally {
    execFileSync('ip', ['netns', 'del', ns]);
  }
});
