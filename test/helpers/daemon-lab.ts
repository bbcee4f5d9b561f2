// A `knocklog run` lab on real files: a config, a kern.log the test appends to,
// a state directory, and commands that write what they did to a file.

import { appendFileSync, chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfig } from '../../src/config/index.js';
import { deriveSequence, encodeBase32, timeStep } from '../../src/totp/index.js';
import { DaemonProcess, openTempDir } from './daemon.js';
import { type Knock, liveKernLine } from './klog.js';
import { timedOf } from './doors.js';

export interface Lab {
  dir: string;
  conf: string;
  kern: string;
  actions: string;
  state: string;
}

export function lab(name: string, doorExtra = '', options = ''): Lab {
  const dir = openTempDir(name);
  const actions = join(dir, 'actions.log');
  const l = { dir, conf: join(dir, 'knockd.conf'), kern: join(dir, 'kern.log'), actions, state: join(dir, 'state') };
  writeConf(l, doorExtra, options);
  writeFileSync(l.kern, '');
  chmodSync(l.kern, 0o644);
  return l;
}

export function writeConf(l: Lab, doorExtra = '', options = ''): void {
  writeFileSync(l.conf, `[options]
  PidFile = ${join(l.dir, 'knocklog.pid')}
${options}
[ssh]
  sequence = 7000,8000,9000
  seq_timeout = 5
  start_command = echo open %IP% >> ${l.actions}
  cmd_timeout = 2
  stop_command = echo close %IP% >> ${l.actions}
${doorExtra}
`);
}

export const actionsOf = (l: Lab) =>
  (existsSync(l.actions) ? readFileSync(l.actions, 'utf8').split('\n').filter(Boolean) : []);

/** Knocks are sent to this host (the daemon's doors listen on its own addresses). */
export const live = (k: Knock) => liveKernLine({ dst: '127.0.0.1', ...k });

export function knock(l: Lab, src: string, ports = [7000, 8000, 9000]): void {
  appendFileSync(l.kern, ports.map((dpt, i) => `${live({ t: i * 0.01, src, dpt })}\n`).join(''));
}

/**
 * Waits until the reader reads the file: with no saved position it starts at
 * the end of the file as it finds it, so earlier lines would not count.
 */
export async function reading(l: Lab, d: DaemonProcess): Promise<void> {
  await d.waitFor(/^starting up, listening on .*; reading file:/);
  for (let i = 1; ; i++) {
    appendFileSync(l.kern, `${live({ t: 0, src: `10.255.255.${i}`, dpt: 7000 })}\n`);
    try {
      await d.waitFor(new RegExp(`^10\\.255\\.255\\.${i}: ssh: Stage 1$`), 300);
      return;
    } catch (e) {
      if (i > 50) throw e;
    }
  }
}

/** With -v: first knocks (`Stage 1`, which `reading` waits for) are logged one by one at debug level only. */
export function start(l: Lab, extra: string[] = []): DaemonProcess {
  return new DaemonProcess(['-v', '-c', l.conf, '-s', `file:${l.kern}`, '--state-dir', l.state, ...extra]);
}

/**
 * A lab with a time-based door `timed` beside `ssh` (an hour-long step: a test
 * stays within the accepted steps whatever the clock does meanwhile): the
 * current step, and the ports of any step's sequence.
 */
export function timedLab(name: string): { l: Lab; step: number; ports: (step: number) => number[] } {
  const l = lab(name, `[timed]
  sequence_secret_file = timed.secret
  sequence_ports = 20000-29999
  sequence_step = 3600
  seq_timeout = 5
  start_command = echo timed-open %IP% >> ${'ACTIONS'}
  cmd_timeout = 1
`);
  writeFileSync(join(l.dir, 'timed.secret'), `${encodeBase32(Buffer.from('a secret of twenty bytes'))}\n`,
    { mode: 0o600 });
  writeFileSync(l.conf, readFileSync(l.conf, 'utf8').replace('ACTIONS', l.actions));
  const timed = timedOf(parseConfig(readFileSync(l.conf, 'utf8'), l.conf).doors.find((d) => d.name === 'timed'));
  return { l, step: timeStep(Date.now(), timed.stepMs), ports: (n) => deriveSequence(timed, n).map((s) => s.port) };
}
