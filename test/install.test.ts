// The README's install steps, as written: `npm pack`, then `npm install -g` of
// the tarball, gives a copy that the reader's own user can read, and that
// copy, run as root, opens a door. (A `npm install -g .` would link the clone,
// which that user may not be able to read.)

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, lstatSync, readdirSync, readFileSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DaemonProcess, openTempDir, removeDir, waitUntil } from './helpers/daemon.js';
import { actionsOf, knock, lab, reading } from './helpers/daemon-lab.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** The README's "Running as a service" commands that install knocklog (the lines that run npm). */
function installSteps(): string[] {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
  const block = /### Running as a service\n\n```sh\n([\s\S]*?)```/.exec(readme)?.[1];
  assert.ok(block !== undefined, 'the README has the install steps');
  return block.split('\n').map((l) => l.replace(/\s+#.*$/, '').trim()).filter((l) => l.startsWith('npm '));
}

test('the README\'s install steps give a copy the reader\'s user can read, and it opens a door',
  { skip: process.getuid?.() === 0 ? false : 'needs root: the installed daemon drops privilege only as root' },
  async () => {
    const steps = installSteps();
    assert.deepEqual(steps.map((s) => s.split(' ').slice(0, 2).join(' ')), ['npm ci', 'npm install'], steps.join('\n'));
    const tmp = openTempDir('install');
    chmodSync(tmp, 0o755);
    const l = lab('installed');
    try {
      // As written, with a private prefix for /usr and the tarball made in tmp. `npm ci` has run
      // (the tests run from its build); `npm pack` here skips the prepare script that would rebuild dist/
      // under the running tests.
      const [pack, install] = steps;
      assert.match(pack!, /^npm ci && npm pack$/);
      execFileSync('npm', ['pack', '--ignore-scripts', '--pack-destination', tmp], { cwd: ROOT, stdio: 'ignore' });
      const tarball = readdirSync(tmp).find((f) => /^knocklog-.*\.tgz$/.test(f));
      assert.ok(tarball !== undefined);
      const argv = install!.replace('--prefix /usr', `--prefix ${join(tmp, 'usr')}`)
        .replace('./knocklog-*.tgz', join(tmp, tarball)).split(' ').slice(1);
      execFileSync('npm', [...argv, '--prefer-offline', '--no-audit', '--no-fund'], { cwd: tmp, stdio: 'ignore' });
      const installed = join(tmp, 'usr', 'lib', 'node_modules', 'knocklog');
      assert.ok(!lstatSync(installed).isSymbolicLink(), 'a copy, not a link to the clone');
      const bin = realpathSync(join(tmp, 'usr', 'bin', 'knocklog'));
      assert.ok(bin.startsWith(installed), bin);
      const d = new DaemonProcess(['-v', '-c', l.conf, '-s', `file:${l.kern}`, '--state-dir', l.state], { bin });
      try {
        await reading(l, d);
        knock(l, '10.0.0.40');
        await waitUntil('the open', () => actionsOf(l).includes('open 10.0.0.40'));
      } finally {
        await d.stop();
      }
    } finally {
      removeDir(tmp);
      removeDir(l.dir);
    }
  });
