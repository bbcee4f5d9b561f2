// The daemon through real files and real processes: `knocklog run` tailing a
// kern.log that the test appends to, with commands that write a file.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, chmodSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { cli, DaemonProcess, removeDir, waitUntil } from './helpers/daemon.js';
import { actionsOf, knock, lab, live, reading, start, writeConf } from './helpers/daemon-lab.js';

const ROOT = process.getuid?.() === 0;

test('a knock in kern.log opens the door for that source and closes it cmd_timeout later; '
  + 'the reader holds no privilege', async (t) => {
  const l = lab('open');
  const d = start(l);
  try {
    await reading(l, d);
    knock(l, '10.0.0.2', [7000, 8000]);
    knock(l, '10.0.0.3');
    await d.waitFor(/^10\.0\.0\.3: ssh: OPEN SESAME$/);
    await waitUntil('the open', () => actionsOf(l).length === 1);
    const status = spawnSync(process.execPath, [cli, 'status', '--state-dir', l.state, '--json'], { encoding: 'utf8' });
    assert.deepEqual((JSON.parse(status.stdout) as { door: string; src: string }[]).map((o) => `${o.door} ${o.src}`),
      ['ssh 10.0.0.3']);
    await waitUntil('the close', () => actionsOf(l).length === 2, 10_000);
    assert.equal(spawnSync(process.execPath, [cli, 'status', '--state-dir', l.state], { encoding: 'utf8' }).stdout,
      'no open doors\n');
    assert.deepEqual(actionsOf(l), ['open 10.0.0.3', 'close 10.0.0.3']);
    assert.ok(d.has(/^ssh: running command: echo open 10\.0\.0\.3 >> /));
    assert.ok(d.has(/^10\.0\.0\.3: ssh: command timeout$/));
    await d.waitFor(/^10\.0\.0\.2: ssh: sequence timeout \(stage 2\)$/);
    const pid = d.readerPid();
    assert.ok(pid !== null, 'the reader process runs');
    const uid = readFileSync(`/proc/${pid}/status`, 'utf8').match(/^Uid:\s+(\d+)/m)?.[1];
    if (ROOT) {
      assert.notEqual(uid, '0', 'the reader must not run as root');
      assert.match(readFileSync(`/proc/${pid}/status`, 'utf8'), /^CapEff:\s+0+$/m);
    } else {
      t.diagnostic('not root: the reader runs as the caller; the uid drop is checked only as root');
    }
  } finally {
    assert.equal(await d.stop(), 0);
    removeDir(l.dir);
  }
});

test('-s stdin: lines written to the daemon\'s standard input reach the reader and open the door', async () => {
  const l = lab('stdin');
  const d = new DaemonProcess(['-c', l.conf, '-s', 'stdin', '--state-dir', l.state], { stdin: true });
  try {
    d.child.stdin!.write(
      `${[7000, 8000, 9000].map((dpt, i) => live({ t: i * 0.01, src: '10.0.0.9', dpt })).join('\n')}\n`);
    await d.waitFor(/^10\.0\.0\.9: ssh: OPEN SESAME$/);
    await waitUntil('the open', () => actionsOf(l).length === 1);
    assert.deepEqual(actionsOf(l), ['open 10.0.0.9']);
  } finally {
    assert.equal(await d.stop(), 0);
    removeDir(l.dir);
  }
});

test('first knocks are summed up once per 10 s, not one line each (a spoofed flood); later stages are', async () => {
  const l = lab('first-knocks');
  const d = new DaemonProcess(['-c', l.conf, '-s', 'stdin', '--state-dir', l.state], { stdin: true });
  try {
    const first = ['10.0.0.20', '10.0.0.21', '10.0.0.22', '10.0.0.21'].map((src) => live({ t: 0, src, dpt: 7000 }));
    const two = [7000, 8000].map((dpt, i) => live({ t: i * 0.01, src: '10.0.0.23', dpt }));
    d.child.stdin!.write(`${[...first, ...two].join('\n')}\n`);
    await d.waitFor(/^10\.0\.0\.23: ssh: Stage 2$/);
    await d.waitFor(/^5 first knocks from 4 sources in the last 10 s$/, 20_000);
    assert.deepEqual(d.messages().filter((m) => m.endsWith('Stage 1')), []);
  } finally {
    assert.equal(await d.stop(), 0);
    removeDir(l.dir);
  }
});

test('kill -9 with a door open: after restart the door is closed on time; nothing is opened twice', async () => {
  const l = lab('kill9');
  writeConf(l, '', '');
  writeFileSync(l.conf, readFileSync(l.conf, 'utf8').replace('cmd_timeout = 2', 'cmd_timeout = 3'));
  let d = start(l);
  try {
    await reading(l, d);
    knock(l, '10.0.0.4');
    await waitUntil('the open', () => actionsOf(l).length === 1);
    const openedAt = Date.now();
    // The reader follows its parent out; kill both as a crash would.
    const reader = d.readerPid();
    d.signal('SIGKILL');
    if (reader !== null) process.kill(reader, 'SIGKILL');
    await d.stop();
    d = start(l);
    await waitUntil('the close after restart', () => actionsOf(l).length === 2, 10_000);
    const closedAt = Date.now();
    assert.deepEqual(actionsOf(l), ['open 10.0.0.4', 'close 10.0.0.4']);
    assert.ok(closedAt - openedAt >= 2500, `closed ${closedAt - openedAt} ms after the open, before its time`);
  } finally {
    await d.stop();
    removeDir(l.dir);
  }
});

test('restart with resume: lines written while stopped are read once, '
  + 'lines read before are not acted on again', async () => {
  const l = lab('resume');
  let d = start(l);
  try {
    await reading(l, d);
    knock(l, '10.0.0.5');
    await waitUntil('open and close', () => actionsOf(l).length === 2, 10_000);
    assert.equal(await d.stop(), 0);
    knock(l, '10.0.0.6');
    d = start(l);
    await waitUntil('the knock written while stopped', () => actionsOf(l).length === 4, 10_000);
    assert.deepEqual(actionsOf(l), ['open 10.0.0.5', 'close 10.0.0.5', 'open 10.0.0.6', 'close 10.0.0.6']);
  } finally {
    await d.stop();
    removeDir(l.dir);
  }
});

test('log rotation by rename while the daemon runs: knocks in the new file open', async () => {
  const l = lab('rotate');
  const d = start(l);
  try {
    await reading(l, d);
    knock(l, '10.0.0.7', [7000]);
    renameSync(l.kern, `${l.kern}.1`);
    appendFileSync(`${l.kern}.1`, `${live({ t: 0, src: '10.0.0.7', dpt: 8000 })}\n`);
    writeFileSync(l.kern, `${live({ t: 0, src: '10.0.0.7', dpt: 9000 })}\n`);
    chmodSync(l.kern, 0o644);
    await d.waitFor(/^10\.0\.0\.7: ssh: OPEN SESAME$/);
  } finally {
    await d.stop();
    removeDir(l.dir);
  }
});

test('SIGHUP: a bad config is reported and the old one kept; a good one applies', async () => {
  const l = lab('hup');
  const d = start(l);
  try {
    await reading(l, d);
    const good = readFileSync(l.conf, 'utf8');
    writeFileSync(l.conf, good.replace('7000,8000,9000', '7000,80x0,9000'));
    d.signal('SIGHUP');
    await d.waitFor(/keeping the old one:\n.*knockd\.conf:\d+: /s);
    knock(l, '10.0.0.8');
    await d.waitFor(/^10\.0\.0\.8: ssh: OPEN SESAME$/);
    writeFileSync(l.conf, good.replace('7000,8000,9000', '7100,7200'));
    d.signal('SIGHUP');
    await waitUntil('the reader to use the new config',
      () => d.messages().filter((m) => m.startsWith('the log reader uses the new config')).length === 1);
    knock(l, '10.0.0.9', [7100, 7200]);
    await d.waitFor(/^10\.0\.0\.9: ssh: OPEN SESAME$/);
  } finally {
    await d.stop();
    removeDir(l.dir);
  }
});

test('a stop_command that fails twice is retried until it succeeds, loudly', async () => {
  const l = lab('retry');
  const counter = join(l.dir, 'tries');
  writeFileSync(l.conf, readFileSync(l.conf, 'utf8').replace(/stop_command = .*/,
    `stop_command = n=$(cat ${counter} 2>/dev/null || echo 0); echo $((n+1)) > ${counter}; `
      + `[ $n -ge 2 ] && echo close %IP% >> ${l.actions}`));
  const d = start(l);
  try {
    await reading(l, d);
    knock(l, '10.0.0.10');
    await waitUntil('the third stop attempt', () => actionsOf(l).length === 2, 20_000);
    assert.equal(readFileSync(counter, 'utf8').trim(), '3');
    assert.equal(d.log.filter((r) => r.level >= 50 && /ssh: command returned non-zero status code \(1\)/.test(r.msg))
      .length, 2);
  } finally {
    await d.stop();
    removeDir(l.dir);
  }
});

test('a flood of 200,000 knock lines from 100,000 sources: memory stays bounded, '
  + 'a legitimate knock among them opens', async () => {
  const l = lab('flood', '', '  MaxSources = 10000');
  // The flood is written faster than it is read: a window longer than the backlog keeps its lines fresh.
  writeFileSync(l.conf, readFileSync(l.conf, 'utf8').replace('seq_timeout = 5', 'seq_timeout = 120'));
  const d = start(l);
  try {
    await reading(l, d);
    let maxRss = 0;
    const sample = () => {
      const pid = d.readerPid();
      if (pid === null) return;
      const kb = Number(readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmRSS:\s+(\d+)/m)?.[1] ?? 0);
      maxRss = Math.max(maxRss, kb);
    };
    const timer = setInterval(sample, 50);
    for (let chunk = 0; chunk < 20; chunk++) {
      const lines: string[] = [];
      for (let i = 0; i < 10_000; i++) {
        const n = (chunk * 10_000 + i) % 100_000;
        lines.push(live({ t: 0, src: `10.${100 + (n >> 16)}.${(n >> 8) & 255}.${n & 255}`, dpt: 7000 }));
      }
      if (chunk === 10) lines.push(...[7000, 8000, 9000].map((dpt) => live({ t: 0, src: '10.0.0.11', dpt })));
      appendFileSync(l.kern, `${lines.join('\n')}\n`);
      await new Promise((r) => setTimeout(r, 20));
    }
    await d.waitFor(/^10\.0\.0\.11: ssh: OPEN SESAME$/, 60_000);
    // Every line has been read once the last flood source's second first knock is logged.
    await d.waitFor(/^10\.101\.134\.159: ssh: Stage 1$/, 60_000);
    await waitUntil('the end of the flood', () => d.count('10.101.134.159: ssh: Stage 1') === 2, 60_000);
    clearInterval(timer);
    sample();
    assert.ok(maxRss > 0 && maxRss < 400 * 1024, `the reader reached ${maxRss} KiB`);
  } finally {
    await d.stop();
    removeDir(l.dir);
  }
});

test('SIGTERM closes the open doors before exiting; LogFile gets knockd\'s lines', async () => {
  const l = lab('term', '', `  LogFile = ${'LOGFILE'}`);
  const logFile = join(l.dir, 'knockd.log');
  writeFileSync(l.conf,
    readFileSync(l.conf, 'utf8').replace('LOGFILE', logFile).replace('cmd_timeout = 2', 'cmd_timeout = 600'));
  const d = start(l);
  try {
    await reading(l, d);
    knock(l, '10.0.0.12');
    await waitUntil('the open', () => actionsOf(l).length === 1);
    assert.equal(await d.stop('SIGTERM'), 0);
    assert.deepEqual(actionsOf(l), ['open 10.0.0.12', 'close 10.0.0.12']);
    assert.ok(d.has(/^shutting down$/));
    assert.match(readFileSync(logFile, 'utf8'), /^\[\d{4}-\d\d-\d\d \d\d:\d\d\] 10\.0\.0\.12: ssh: OPEN SESAME$/m);
  } finally {
    await d.stop();
    removeDir(l.dir);
  }
});

test('stale knocks (a catch-up of old lines, as rsyslog re-logs them at its start) never open', async () => {
  const l = lab('stale');
  const d = start(l);
  try {
    await reading(l, d);
    // Kernel stamps 60 s old, with a fresh syslog stamp as rsyslog writes them.
    const old = [7000, 8000, 9000].map((dpt, i) =>
      live({ t: -60 + i * 0.1, src: '10.0.0.13', dpt }).replace(/^\S+/, new Date().toISOString()));
    appendFileSync(l.kern, `${old.join('\n')}\n`);
    knock(l, '10.0.0.14');
    await d.waitFor(/^10\.0\.0\.14: ssh: OPEN SESAME$/);
    assert.ok(!d.has(/^10\.0\.0\.13: /), 'no stage for the stale knocks');
  } finally {
    await d.stop();
    removeDir(l.dir);
  }
});

test('one_time_sequences: each line opens once and is commented atomically; '
  + 'the last one disables the door', async () => {
  const l = lab('onetime');
  const seqs = join(l.dir, 'seqs');
  writeFileSync(seqs, '# knock sequences\n7100,7200\n7300,7400\n');
  writeFileSync(l.conf,
    readFileSync(l.conf, 'utf8').replace('sequence = 7000,8000,9000', `one_time_sequences = ${seqs}`));
  const d = start(l);
  try {
    await d.waitFor(/^file:.*: reading .* from byte \d+$/);
    knock(l, '10.0.0.15', [7100, 7200]);
    await d.waitFor(/^10\.0\.0\.15: ssh: OPEN SESAME$/);
    await waitUntil('line 2 marked', () => /^# used .*: 7100,7200$/m.test(readFileSync(seqs, 'utf8')));
    knock(l, '10.0.0.16', [7100, 7200]);
    knock(l, '10.0.0.16', [7300, 7400]);
    await d.waitFor(/^10\.0\.0\.16: ssh: OPEN SESAME$/);
    await d.waitFor(/^no more sequences left in the one time sequences file for door ssh --> disabling the door$/);
    assert.equal(d.count('10.0.0.16: ssh: OPEN SESAME'), 1, 'the used sequence opened nothing');
    assert.match(readFileSync(seqs, 'utf8'), /^# knock sequences\n# used .*: 7100,7200\n# used .*: 7300,7400\n$/);
  } finally {
    await d.stop();
    removeDir(l.dir);
  }
});

test('one_time_sequences: two sequences used back to back both open '
  + '(the second waits for the first one\'s mark)', async () => {
  const l = lab('onetime-burst');
  const seqs = join(l.dir, 'seqs');
  writeFileSync(seqs, '7100,7200\n7300,7400\n7500,7600\n');
  writeFileSync(l.conf,
    readFileSync(l.conf, 'utf8').replace('sequence = 7000,8000,9000', `one_time_sequences = ${seqs}`));
  const d = start(l);
  try {
    await d.waitFor(/^file:.*: reading .* from byte \d+$/);
    // One write: both opens reach the executor in one batch.
    appendFileSync(l.kern, [[7100, '10.0.0.18'], [7200, '10.0.0.18'], [7300, '10.0.0.19'], [7400, '10.0.0.19']]
      .map(([dpt, src]) => `${live({ t: 0, src: src as string, dpt: dpt as number })}\n`).join(''));
    await d.waitFor(/^10\.0\.0\.19: ssh: OPEN SESAME$/);
    assert.ok(d.has(/^10\.0\.0\.18: ssh: OPEN SESAME$/));
    await waitUntil('both lines marked',
      () => readFileSync(seqs, 'utf8').split('\n').filter((x) => x.startsWith('# used')).length === 2);
    assert.ok(!d.has(/refused/), d.messages().join('\n'));
  } finally {
    await d.stop();
    removeDir(l.dir);
  }
});

test('a reader that dies is restarted from its saved position; the daemon runs on', async () => {
  const l = lab('reader');
  const d = start(l);
  try {
    await reading(l, d);
    const first = d.readerPid();
    assert.ok(first !== null);
    process.kill(first, 'SIGKILL');
    await d.waitFor(/^the log reader exited \(SIGKILL\); restarting it in 1 s$/);
    await waitUntil('a new reader', () => { const p = d.readerPid(); return p !== null && p !== first; });
    knock(l, '10.0.0.17');
    await d.waitFor(/^10\.0\.0\.17: ssh: OPEN SESAME$/);
  } finally {
    await d.stop();
    removeDir(l.dir);
  }
});

test('run warns at start when a door\'s stop_command deletes another rule than its start_command adds', async () => {
  const bad = '\n[web]\n  sequence = 6000,6001\n'
    + '  start_command = iptables -I INPUT -s %IP% -p tcp --dport 443 -j ACCEPT\n'
    + '  stop_command = iptables -D INPUT -s %IP% -p tcp --dport 80 -j ACCEPT\n';
  const l = lab('undo', bad);
  const d = start(l);
  try {
    await d.waitFor(/:\d+: door web: stop_command does not delete the rule start_command adds /);
    assert.ok(!d.has(/door ssh: stop_command does not delete/), 'the echo commands of door ssh are not compared');
  } finally {
    assert.equal(await d.stop(), 0);
    removeDir(l.dir);
  }
});

test('a SIGHUP or SIGTERM while the daemon starts waits for the start: it neither dies on the spot nor is lost',
  async () => {
    // Both signals kill a process that has no handler yet; the handlers came only after the start (which restores
    // the state, forks the reader, ...). The warning below is logged at the start's beginning.
    const bad = '\n[web]\n  sequence = 6000,6001\n'
      + '  start_command = iptables -I INPUT -s %IP% -j ACCEPT\n  stop_command = iptables -D INPUT -s %IP% -j DROP\n';
    for (const sig of ['SIGHUP', 'SIGTERM'] as const) {
      const l = lab(`early-${sig}`, bad);
      const d = start(l);
      try {
        await d.waitFor(/door web: stop_command does not delete/);
        d.signal(sig);
        await d.waitFor(/^starting up, listening on /);
        if (sig === 'SIGHUP') await d.waitFor(/^re-reading config file: /);
      } finally {
        assert.equal(await d.stop(), 0, `${sig}: a clean exit`);
        removeDir(l.dir);
      }
    }
  });
