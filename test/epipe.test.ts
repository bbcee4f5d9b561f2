// A reader that stops early (`knocklog check | head -1`) closes the pipe: the
// commands then end quietly, as any Unix filter does (audit L11).

import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { kernLine } from './helpers/klog.js';

const CLI = fileURLToPath(new URL('../src/cli.js', import.meta.url));

/** Runs the CLI, reads the first chunk of its stdout, then closes the pipe; its exit status and stderr. */
async function closedEarly(args: string[]): Promise<{ status: number | null; stderr: string }> {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
  await once(child.stdout, 'data');
  child.stdout.destroy();
  const [status] = (await once(child, 'close')) as [number | null];
  return { status, stderr };
}

// Each output is megabytes: far more than a pipe holds, so writing goes on after the close.
const dir = mkdtempSync(join(tmpdir(), 'knocklog-epipe-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const conf = join(dir, 'big.conf');
const doors = Array.from({ length: 3000 }, (_, i) => `[door${i}]\nsequence = ${1000 + i},${5000 + i}\n`);
writeFileSync(conf, doors.join(''));
const log = join(dir, 'kern.log');
const knocks = Array.from({ length: 20000 }, (_, i) =>
  kernLine({ t: i / 100, src: '10.77.0.2', dpt: 1000 + i % 3000 }));
writeFileSync(log, `${knocks.join('\n')}\n`);

for (const args of [['check', '-c', conf], ['parse', log], ['replay', '-c', conf, log]]) {
  test(`${args[0]} exits 0 without a word when its stdout is closed early`, async () => {
    assert.deepEqual(await closedEarly(args), { status: 0, stderr: '' });
  });
}
