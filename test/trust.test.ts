// Who may have written what the root executor acts on (src/state/trust.ts).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { trustProblem } from '../src/state/trust.js';
import { cli, openTempDir, removeDir } from './helpers/daemon.js';

const ROOT = process.getuid?.() === 0;

test('a symbolic link on the way is followed: its target\'s directories are checked, not the link\'s own mode', () => {
  const dir = openTempDir('trust-link');
  try {
    mkdirSync(join(dir, 'real'), { mode: 0o755 });
    symlinkSync(join(dir, 'real'), join(dir, 'run')); // as /var/run -> /run
    assert.equal(trustProblem(join(dir, 'run', 'knocklog'), 'directory', true), null);
    chmodSync(join(dir, 'real'), 0o777);
    assert.match(trustProblem(join(dir, 'run', 'knocklog'), 'directory', true) ?? '', /real is writable by others/);
  } finally {
    removeDir(dir);
  }
});

test('a link owned by another user is refused', { skip: ROOT ? false : 'needs root to chown' }, () => {
  const dir = openTempDir('trust-link-owner');
  try {
    mkdirSync(join(dir, 'real'), { mode: 0o755 });
    symlinkSync(join(dir, 'real'), join(dir, 'run'));
    spawnSync('chown', ['-h', '65534', join(dir, 'run')]);
    assert.match(trustProblem(join(dir, 'run', 'x'), 'directory', true) ?? '',
      /symbolic link .*run is owned by uid 65534/);
  } finally {
    removeDir(dir);
  }
});

test('a path that cannot be looked at is a problem, not a crash: check exits 1 with FILE:LINE', () => {
  const dir = openTempDir('trust-enotdir');
  try {
    const conf = join(dir, 'knockd.conf');
    writeFileSync(conf, '[options]\n  StateDir = /etc/passwd/x\n[d]\n  sequence = 1,2\n  start_command = true\n');
    assert.match(trustProblem('/etc/passwd/x', 'directory', true) ?? '',
      /cannot check \/etc\/passwd\/x|is a regular file/);
    const r = spawnSync(process.execPath, [cli, 'check', '-c', conf], { encoding: 'utf8' });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /knockd\.conf:2: StateDir: /);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'a stack trace');
  } finally {
    removeDir(dir);
  }
});
