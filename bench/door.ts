// The lab's protected port as the benchmarks see it: knock and time the open
// from the client, and wait for the door to close again.

import { KNOCKLOG_CLI, waitFor, type Lab } from '../lab/lab.js';

/**
 * Knocks `ports` from the client namespace with `knocklog knock --wait`, which
 * probes `port` every 5 ms: the ms from the last hit until it accepted, or
 * null when it stayed closed for `timeoutMs`.
 */
export async function knockAndWait(
  lab: Lab,
  ports: readonly number[],
  port: number,
  timeoutMs: number,
): Promise<number | null> {
  try {
    const { stdout } = await lab.clientExec(process.execPath, [
      KNOCKLOG_CLI, 'knock', '--wait', String(port), '--wait-timeout', String(timeoutMs),
      lab.server.v4, ...ports.map(String),
    ]);
    const m = /open after (\d+) ms/.exec(stdout);
    return m ? Number(m[1]) : null;
  } catch {
    return null; // exit 1: still closed
  }
}

/** Waits until the server's firewall holds no ACCEPT for `port` (the stop command ran). */
export async function waitClosed(lab: Lab, port: number): Promise<void> {
  const rules = async () => (await lab.serverExec('iptables', ['-S', 'INPUT'])).stdout;
  await waitFor('the door to close', async () => !(await rules()).includes(`--dport ${port} -j ACCEPT`), {
    timeoutMs: 15_000,
    describe: () => 'an ACCEPT rule for it is still in INPUT',
  });
}
