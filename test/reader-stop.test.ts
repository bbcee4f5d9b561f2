// The reader's last save of its log position at stop. A service manager stops
// knocklog by signalling every process of the service (systemd's
// KillMode=control-group), and the executor signals its reader too: the
// reader gets SIGTERM twice, and the second must not cut its save short, or
// after a restart it reads its last records again and counts them twice.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DaemonProcess, removeDir, waitUntil } from './helpers/daemon.js';
import { lab, live } from './helpers/daemon-lab.js';

/** journald's JSON record of a kernel knock line (rsyslog's text), as `journalctl -o json` prints it. */
function journalRecord(line: string, cursor: string): string {
  const m = /kernel: \[ *(\d+)\.(\d{6})\] (.*)$/.exec(line);
  assert.ok(m !== null, line);
  return JSON.stringify({
    __CURSOR: cursor, __REALTIME_TIMESTAMP: String(Date.now() * 1000), _TRANSPORT: 'kernel', SYSLOG_FACILITY: '0',
    _SOURCE_MONOTONIC_TIMESTAMP: `${m[1]}${m[2]}`, MESSAGE: m[3],
  });
}

test('a second SIGTERM while the reader stops does not cut its position save short', async () => {
  const l = lab('reader-stop');
  // A journalctl that prints a knock, then follows; on SIGTERM it takes 0.5 s to exit,
  // so the reader's stop lasts that long.
  const record = journalRecord(live({ t: 0, src: '10.0.0.8', dpt: 7000 }), 's=lab;i=1');
  writeFileSync(join(l.dir, 'record.json'), `${record}\n`);
  const fake = join(l.dir, 'journalctl');
  writeFileSync(fake, `#!/bin/sh
trap 'sleep 0.5; exit 0' TERM
case "$*" in *--after-cursor*) ;; *) cat '${join(l.dir, 'record.json')}';; esac
while :; do sleep 0.05; done
`);
  chmodSync(fake, 0o755);
  const path = process.env['PATH'];
  process.env['PATH'] = `${l.dir}:${path ?? ''}`; // the reader runs `journalctl` from the PATH it inherits
  const d = new DaemonProcess(['-v', '-c', l.conf, '-s', 'journal', '--state-dir', l.state]);
  process.env['PATH'] = path;
  try {
    await d.waitFor(/^10\.0\.0\.8: ssh: Stage 1$/);
    const reader = d.readerPid();
    assert.ok(reader !== null);
    // As systemd stops a service: SIGTERM to every process (the reader first);
    // the executor then signals its reader again.
    process.kill(reader, 'SIGTERM');
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(await d.stop('SIGTERM'), 0);
    await waitUntil('the reader to exit',
      () => !existsSync(`/proc/${reader}`) || /^State:\s+Z/m.test(readFileSync(`/proc/${reader}/status`, 'utf8')));
    const saved = join(l.state, 'reader', 'pos-journal.json');
    assert.ok(existsSync(saved), 'the position was saved at stop');
    assert.deepEqual(JSON.parse(readFileSync(saved, 'utf8')), { version: 1, cursor: 's=lab;i=1' });
  } finally {
    await d.stop();
    removeDir(l.dir);
  }
});
