// knocklog's `ulogd-socket:` path in the lab: the socket's directory, and
// ulogd2 running the stack that `knocklog rules --ulogd-conf` prints.

import { spawnSync } from 'node:child_process';
import { chownSync, mkdirSync } from 'node:fs';
import { runKnocklog, type Daemon, type Lab } from './lab.js';
import { spawnUlogd } from './ulogd.js';

/** A directory for the socket, mode 0700 and owned by the reader's user `knocklog`, which creates the socket there. */
export function socketDir(lab: Lab, name: string): string {
  const dir = lab.path(name);
  mkdirSync(dir, { mode: 0o700 });
  chownSync(dir, Number(spawnSync('id', ['-u', 'knocklog'], { encoding: 'utf8' }).stdout.trim()), 0);
  return dir;
}

export interface SocketUlogd {
  daemon: Daemon;
  /** ulogd2's own log: empty unless it reports an error. */
  own: () => string;
  /** The ulogd.conf as knocklog printed it. */
  printed: string;
}

/**
 * ulogd2 for knocklog's `conf` (NFLOG `group`), with the printed stack as it
 * is but for its own log, a lab file instead of syslog. Knocklog must listen
 * already (ulogd2 gives up on a stack whose socket does not answer);
 * `connected` resolves once knocklog says ulogd2 connected (`own`: ulogd2's
 * log so far, to say why not).
 */
export async function startSocketUlogd(
  lab: Lab, name: string, conf: string, group: number, connected: (own: () => string) => Promise<unknown>,
): Promise<SocketUlogd> {
  const { stdout: printed } = await runKnocklog(['rules', '-c', conf, '--ulogd-conf', '--group', String(group)]);
  const ownLog = lab.path(`${name}.log`);
  const ulogdConf = lab.writeFile(`${name}.conf`, printed.replace(/^logfile=.*$/m, `logfile="${ownLog}"`));
  const u = spawnUlogd(lab, name, ulogdConf);
  await connected(u.own);
  return { daemon: u.daemon, own: u.own, printed };
}
