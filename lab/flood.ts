// A spoofed SYN flood inside the lab: hping3 in the client namespace, aimed at
// the server's address only, bounded by a packet count and a timeout.

import type { Lab } from './lab.js';

export interface FloodOptions {
  count: number;
  /** Gap between packets in µs (hping3 -i uN): at most 1e6/gapUs packets a second. */
  gapUs: number;
  timeoutS: number;
}

/** `hping3 --rand-source -S` at `port`; resolves with the number of packets sent. */
export async function synFlood(lab: Lab, port: number, o: FloodOptions): Promise<number> {
  const hping = `hping3 --rand-source -S -p ${port} -i u${o.gapUs} -c ${o.count} ${lab.server.v4}`;
  const cmd = `timeout ${o.timeoutS} ${hping} 2>&1; true`;
  const { stdout } = await lab.clientExec('sh', ['-c', cmd]);
  const sent = /(\d+) packets transmitted/.exec(stdout);
  if (sent === null) throw new Error(`hping3 printed no statistics:\n${stdout.slice(-1000)}`);
  return Number(sent[1]);
}
