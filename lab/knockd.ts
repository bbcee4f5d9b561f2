// knockd 0.8 in the server namespace, sniffing the server's end of the veth
// pair: the baseline knocklog is compared to.

import { readFileSync } from 'node:fs';
import type { Lab } from './lab.js';
import type { Daemon } from './proc.js';

export interface Knockd {
  daemon: Daemon;
  /** knockd's log file (`-g`): `[YYYY-MM-DD HH:MM] SRC: DOOR: Stage N`, `OPEN SESAME`, ... */
  logFile: string;
  log(): string;
  /** How many packets from the client (IPv4) to `port` knockd has captured so far (its -D output). */
  knocksSeen(port: number): number;
  stop(): Promise<void>;
}

/**
 * `confText` is a knockd.conf; leave LogFile and PidFile out (the lab sets
 * them, and a LogFile in the file would win over -g). knockd reads the
 * interface's addresses once at start, so the lab's addresses must exist by
 * then, as they do after createLab.
 */
export async function runKnockd(lab: Lab, confText: string): Promise<Knockd> {
  const conf = lab.writeFile('knockd.conf', confText);
  const logFile = lab.path('knockd.log');
  // -D prints every captured packet, -v prints "listening on"; stdbuf makes
  // stdout line-buffered into our pipe (a pipe is otherwise block-buffered).
  const daemon = lab.spawn('knockd', 'server', [
    'stdbuf', '-oL', 'knockd', '-i', lab.serverIf, '-c', conf, '-g', logFile, '-p', lab.path('knockd.pid'), '-v', '-D',
  ]);
  await daemon.waitForOutput(new RegExp(`listening on ${lab.serverIf}`));
  const client = lab.client.v4.replaceAll('.', '\\.');
  return {
    daemon,
    logFile,
    log: () => readFileSync(logFile, 'utf8'),
    knocksSeen: (port) => daemon.output.match(new RegExp(`: ${client}:\\d+ -> [^ ]+:${port} `, 'g'))?.length ?? 0,
    stop: () => daemon.stop(),
  };
}
