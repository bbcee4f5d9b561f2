// The hostile-input audit's findings against the real daemon: real files, real
// processes, real signals. Each test failed on the audited code (53212d9).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import {
  appendFileSync, chmodSync, chownSync, existsSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { cli, DaemonProcess, removeDir, waitUntil } from './helpers/daemon.js';
import { actionsOf, knock, lab, live, reading, start, timedLab, type Lab } from './helpers/daemon-lab.js';

const ROOT = process.getuid?.() === 0;
const needRoot = ROOT ? false : 'needs root: the daemon drops privilege only when started as root';

function oneTimeLab(name: string, lines: string, cmdTimeout = 30): { l: Lab; seqs: string } {
  const l = lab(name);
  const seqs = join(l.dir, 'seqs');
  writeFileSync(seqs, lines);
  writeFileSync(l.conf, readFileSync(l.conf, 'utf8')
    .replace('sequence = 7000,8000,9000', `one_time_sequences = ${seqs}`)
    .replace('cmd_timeout = 2', `cmd_timeout = ${cmdTimeout}`));
  return { l, seqs };
}

const waitReading = (d: DaemonProcess) => d.waitFor(/^file:.*: reading .* from byte \d+$/);

/** Ports in LISTEN state on any address, from /proc/net/tcp{,6}. */
function listening(): Set<number> {
  const out = new Set<number>();
  for (const f of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const row of readFileSync(f, 'utf8').split('\n').slice(1)) {
      const cols = row.trim().split(/\s+/);
      if (cols[3] === '0A') out.add(parseInt(cols[1]!.split(':')[1]!, 16));
    }
  }
  return out;
}

const uidOf = (pid: number) => Number(readFileSync(`/proc/${pid}/status`, 'utf8').match(/^Uid:\s+(\d+)/m)?.[1]);

test('H1: SIGUSR1, from the reader\'s uid or from root, opens no inspector in the reader or the executor',
  { skip: needRoot }, async () => {
  const l = lab('h1');
  const d = start(l);
  try {
    await reading(l, d);
    const reader = d.readerPid();
    assert.ok(reader !== null);
    const uid = uidOf(reader);
    assert.notEqual(uid, 0);
    const asReader = spawnSync('setpriv',
      ['--reuid', String(uid), '--regid', String(uid), '--clear-groups', 'kill', '-USR1', String(reader)]);
    assert.equal(asReader.status, 0, `kill as the reader's uid: ${asReader.stderr}`);
    process.kill(reader, 'SIGUSR1');
    d.signal('SIGUSR1');
    await new Promise((r) => setTimeout(r, 1000));
    const open = listening();
    assert.ok(!open.has(9229) && !open.has(9230), 'an inspector listens on 9229/9230');
    assert.ok(!/Debugger listening/.test(d.stderr), d.stderr);
    // Both processes live on and work.
    assert.equal(d.readerPid(), reader);
    knock(l, '10.0.0.2');
    await d.waitFor(/^10\.0\.0\.2: ssh: OPEN SESAME$/);
  } finally {
    await d.stop();
    removeDir(l.dir);
  }
});

test('H1: the reader gets no NODE_OPTIONS, and `run` refuses to start with an inspector enabled',
  { skip: needRoot }, async () => {
  const l = lab('h1env');
  const d = new DaemonProcess(['-v', '-c', l.conf, '-s', `file:${l.kern}`, '--state-dir', l.state], {
    env: { ...process.env, NODE_OPTIONS: '--max-old-space-size=200' },
  });
  try {
    await reading(l, d);
    const environ = readFileSync(`/proc/${d.readerPid()}/environ`, 'utf8').split('\0');
    assert.ok(!environ.some((v) => v.startsWith('NODE_OPTIONS=')), environ.join(' '));
  } finally {
    await d.stop();
  }
  const inspected = new DaemonProcess(['-v', '-c', l.conf, '-s', `file:${l.kern}`, '--state-dir', l.state], {
    env: { ...process.env, NODE_OPTIONS: '--inspect=127.0.0.1:0' },
  });
  try {
    assert.equal(await inspected.exitWithin(10_000), 1);
    assert.match(inspected.stderr, /inspector/);
  } finally {
    await inspected.stop('SIGKILL');
    removeDir(l.dir);
  }
});

test('H2: a state directory another user made or may write is refused; its commands never run',
  { skip: needRoot }, async () => {
  const l = lab('h2');
  const pwned = join(l.dir, 'PWNED');
  const evil = JSON.stringify(
    { version: 1, open: [{ door: 'ssh', src: '1.2.3.4', closeAt: 0, stopCommand: `id > ${pwned}` }] });
  const cases: [string, () => void, RegExp][] = [
    ['owned by another user', () => {
      mkdirSync(l.state, { mode: 0o755 });
      writeFileSync(join(l.state, 'open-doors.json'), evil);
      chownSync(l.state, 65534, 65534);
    }, /owned by uid 65534/],
    ['writable by others', () => {
      mkdirSync(l.state, { mode: 0o755 });
      chmodSync(l.state, 0o777);
      writeFileSync(join(l.state, 'open-doors.json'), evil);
    }, /writable by others/],
    ['a state file writable by its group', () => {
      mkdirSync(l.state, { mode: 0o711 });
      writeFileSync(join(l.state, 'open-doors.json'), evil, { mode: 0o664 });
      chmodSync(join(l.state, 'open-doors.json'), 0o664);
    }, /writable by its group/],
    ['a state file that is a symlink', () => {
      mkdirSync(l.state, { mode: 0o711 });
      writeFileSync(join(l.dir, 'elsewhere.json'), evil);
      symlinkSync(join(l.dir, 'elsewhere.json'), join(l.state, 'open-doors.json'));
    }, /symbolic link/],
  ];
  try {
    for (const [what, make, reason] of cases) {
      rmSync(l.state, { recursive: true, force: true });
      make();
      const d = start(l);
      const status = await d.exitWithin(10_000);
      await d.stop();
      assert.equal(status, 1, `${what}: the daemon started`);
      const out = d.stderr + d.messages().join('\n');
      assert.match(out, reason, `${what}: ${out}`);
      assert.match(out, /chown|chmod|remove/, `${what}: the message says what to do`);
      assert.ok(!existsSync(pwned), `${what}: the stored command ran as root`);
    }
  } finally {
    removeDir(l.dir);
  }
});

test('H2: check refuses a StateDir in a world-writable directory such as /tmp', () => {
  const l = lab('h2check', '', '  StateDir = /tmp');
  try {
    const r = spawnSync(process.execPath, [cli, 'check', '-c', l.conf], { encoding: 'utf8' });
    assert.equal(r.status, 1, r.stdout);
    assert.match(r.stderr, /knockd\.conf:\d+: .*\/tmp.*writable by others/);
  } finally {
    removeDir(l.dir);
  }
});

test('H3: a one-time line completed while the door is open for that source is used up; '
  + 'replayed, it opens nothing', async () => {
  const { l, seqs } = oneTimeLab('h3', '7001,8001\n7002,8002\n7003,8003\n');
  const d = start(l);
  try {
    await waitReading(d);
    knock(l, '10.0.0.3', [7001, 8001]);
    await waitUntil('the open', () => actionsOf(l).includes('open 10.0.0.3'));
    knock(l, '10.0.0.3', [7002, 8002]);
    await waitUntil('line 2 marked', () => /^# used .*: 7002,8002$/m.test(readFileSync(seqs, 'utf8')));
    knock(l, '10.0.0.66', [7002, 8002]);
    knock(l, '10.0.0.4', [7003, 8003]);
    await waitUntil('the marker open', () => actionsOf(l).includes('open 10.0.0.4'));
    assert.ok(!actionsOf(l).includes('open 10.0.0.66'), 'the replayed line opened the door');
  } finally {
    await d.stop();
    removeDir(l.dir);
  }
});

test('M1: a failed start_command does not lock the source out: the next knock runs it again; '
  + 'its close runs once', async () => {
  const l = lab('m1');
  const fail = join(l.dir, 'fail');
  writeFileSync(l.conf, readFileSync(l.conf, 'utf8')
    .replace(/start_command = .*/, `start_command = test ! -f ${fail} && echo open %IP% >> ${l.actions}`)
    .replace('cmd_timeout = 2', 'cmd_timeout = 3'));
  writeFileSync(fail, '');
  const d = start(l);
  try {
    await reading(l, d);
    knock(l, '10.0.0.5');
    await d.waitFor(/^ssh: command returned non-zero status code \(1\)$/);
    rmSync(fail);
    knock(l, '10.0.0.5');
    await waitUntil('the second start', () => actionsOf(l).includes('open 10.0.0.5'));
    await waitUntil('the close', () => actionsOf(l).includes('close 10.0.0.5'), 10_000);
    await new Promise((r) => setTimeout(r, 500));
    assert.deepEqual(actionsOf(l), ['open 10.0.0.5', 'close 10.0.0.5']);
  } finally {
    await d.stop();
    removeDir(l.dir);
  }
});

test('M3: a one-time line that cannot be marked used does not open the door, and says why', async () => {
  const { l, seqs } = oneTimeLab('m3', '7001,8001\n7002,8002\n');
  const d = start(l);
  try {
    await waitReading(d);
    // The fault: the file cannot be replaced (a directory stands where it was).
    rmSync(seqs);
    mkdirSync(seqs);
    knock(l, '10.0.0.6', [7001, 8001]);
    await d.waitFor(/^10\.0\.0\.6: ssh: cannot mark .*seqs.*the door stays shut/);
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(!actionsOf(l).includes('open 10.0.0.6'), 'the door opened on an unmarked line');
  } finally {
    await d.stop();
    removeDir(l.dir);
  }
});

test('M4: the used line is found by its content, not by a line number the file no longer agrees with', async () => {
  const { l, seqs } = oneTimeLab('m4', '7001,8001\n7002,8002\n7003,8003\n');
  const d = start(l);
  try {
    await waitReading(d);
    knock(l, '10.0.0.7', [7001, 8001]);
    await waitUntil('line 1 marked', () => readFileSync(seqs, 'utf8').startsWith('# used'));
    // The admin tidies the file while the daemon runs: used lines go.
    writeFileSync(seqs, '7002,8002\n7003,8003\n');
    knock(l, '10.0.0.8', [7002, 8002]);
    await waitUntil('the open', () => actionsOf(l).includes('open 10.0.0.8'));
    await waitUntil('line 7002 marked', () => /^# used .*: 7002,8002$/m.test(readFileSync(seqs, 'utf8')));
    assert.match(readFileSync(seqs, 'utf8'), /^# used .*: 7002,8002\n7003,8003\n$/);
  } finally {
    await d.stop();
    removeDir(l.dir);
  }
});

test('M5: when open-doors.json cannot be written, start_command does not run', async () => {
  const l = lab('m5');
  const d = start(l);
  try {
    await reading(l, d);
    mkdirSync(join(l.state, 'open-doors.json')); // the fault
    knock(l, '10.0.0.9');
    await d.waitFor(/^10\.0\.0\.9: ssh: cannot record the open door in .*open-doors\.json: .*the door stays shut/);
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(actionsOf(l), []);
  } finally {
    await d.stop();
    removeDir(l.dir);
  }
});

test('L1: when used-steps.json cannot be written, a time-based door does not open', async () => {
  const { l, step, ports: portsOf } = timedLab('l1');
  const ports = portsOf(step);
  const d = start(l);
  try {
    await reading(l, d);
    mkdirSync(join(l.state, 'used-steps.json')); // the fault
    knock(l, '10.0.0.10', ports);
    await d.waitFor(/^10\.0\.0\.10: timed: cannot record time step \d+ used .*the door stays shut/);
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(actionsOf(l), []);
  } finally {
    await d.stop();
    removeDir(l.dir);
  }
});

test('L4: a reader that stops answering (SIGSTOP) is noticed and replaced', async () => {
  const l = lab('l4');
  const d = start(l);
  await reading(l, d);
  const first = d.readerPid();
  assert.ok(first !== null);
  try {
    process.kill(first, 'SIGSTOP');
    await d.waitFor(/^the log reader has not answered for \d+ s; restarting it$/, 20_000);
    await waitUntil('a new reader', () => { const p = d.readerPid(); return p !== null && p !== first; }, 10_000);
    knock(l, '10.0.0.11');
    await d.waitFor(/^10\.0\.0\.11: ssh: OPEN SESAME$/);
  } finally {
    try { process.kill(first, 'SIGCONT'); } catch { /* replaced and gone */ }
    await d.stop();
    removeDir(l.dir);
  }
});

test('L5: text from the reader cannot start a line of its own in LogFile', async () => {
  const l = lab('l5', '', '  LogFile = LOGFILE');
  const logFile = join(l.dir, 'knockd.log');
  writeFileSync(l.conf, readFileSync(l.conf, 'utf8').replace('LOGFILE', logFile));
  // A source path is text the reader repeats in its messages.
  const forged = join(l.dir, 'missing\n[2026-11-30 15:00] 6.6.6.6: ssh: OPEN SESAME');
  const d = new DaemonProcess(
    ['-v', '-c', l.conf, '-s', `file:${l.kern}`, '-s', `file:${forged}`, '--state-dir', l.state]);
  try {
    await reading(l, d);
    await waitUntil('the reader\'s message about the missing file',
      () => readFileSync(logFile, 'utf8').includes('6.6.6.6'));
    for (const line of readFileSync(logFile, 'utf8').split('\n').filter(Boolean)) {
      assert.match(line, /^\[\d{4}-\d\d-\d\d \d\d:\d\d\] /, `a line without the daemon's stamp: ${line}`);
      assert.ok(!line.startsWith('[2026-11-30 15:00] 6.6.6.6'), line);
    }
  } finally {
    await d.stop();
    removeDir(l.dir);
  }
});

test('M6: SIGHUP applies a changed Interface to the running reader', async () => {
  const l = lab('m6', '', '  Interface = vsrv');
  const d = start(l);
  try {
    await reading(l, d);
    writeFileSync(l.conf, readFileSync(l.conf, 'utf8').replace('Interface = vsrv', 'Interface = wg0'));
    d.signal('SIGHUP');
    await d.waitFor(/^re-reading config file: /);
    await new Promise((r) => setTimeout(r, 300));
    knock(l, '10.0.0.12'); // IN=vsrv
    appendFileSync(l.kern,
      [7000, 8000, 9000].map((dpt) => `${live({ t: 0, src: '10.0.0.13', dpt, iface: 'wg0' })}\n`).join(''));
    await d.waitFor(/^10\.0\.0\.13: ssh: OPEN SESAME$/);
    assert.ok(!d.has(/^10\.0\.0\.12: ssh: OPEN SESAME$/),
      'a knock on the interface the new config excludes opened the door');
  } finally {
    await d.stop();
    removeDir(l.dir);
  }
});

test('the reader\'s user must read its code: a copy in a 0700 directory is refused at start with one message',
  { skip: needRoot }, async () => {
  const l = lab('unreadable');
  const hidden = join(l.dir, 'hidden');
  mkdirSync(hidden, { mode: 0o700 });
  const root = join(cli, '..', '..', '..');
  for (const part of ['package.json', 'node_modules', 'dist']) {
    spawnSync('cp', ['-a', join(root, part), join(hidden, part)]);
  }
  const r = spawnSync(process.execPath, [join(hidden, 'dist', 'src', 'cli.js'), 'run', '-c', l.conf,
    '-s', `file:${l.kern}`,
    '--state-dir', l.state], { encoding: 'utf8', timeout: 20_000 });
  try {
    assert.equal(r.status, 1, r.stdout + r.stderr);
    assert.match(r.stdout + r.stderr, /the log reader's user knocklog cannot read .*hidden.*reader\.js/);
    assert.ok(!/Cannot find module/.test(r.stdout + r.stderr));
  } finally {
    removeDir(l.dir);
  }
});

test('the PidFile and LogFile that root writes may not be links another user could have placed', async () => {
  const l = lab('written', '', '  LogFile = LOGFILE');
  const target = join(l.dir, 'precious');
  writeFileSync(target, 'keep me\n');
  const logFile = join(l.dir, 'knockd.log');
  writeFileSync(l.conf, readFileSync(l.conf, 'utf8').replace('LOGFILE', logFile));
  symlinkSync(target, logFile);
  const d = start(l);
  try {
    const status = await d.exitWithin(10_000);
    assert.equal(status, 1, 'the daemon started');
    assert.match(d.stderr + d.messages().join('\n'), /knockd\.log is a symbolic link/);
    assert.equal(readFileSync(target, 'utf8'), 'keep me\n');
  } finally {
    await d.stop();
    removeDir(l.dir);
  }
});
