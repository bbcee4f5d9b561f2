// The flood-proof path end to end: the NFLOG rules of `knocklog rules --via
// nflog`, ulogd2 running the `knocklog rules --ulogd-conf` stack, and
// `knocklog run -s ulogd-socket:PATH` reading what ulogd2 writes to its socket.
// No knock record touches the disk. The tests knock; restart knocklog under a
// running ulogd2; knock during a spoofed SYN flood at a knock port; and show
// the kern.log rules' budget per port.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  createLab,
  knocklogKnock,
  loadKnocklogRules,
  requireLabOrSkip,
  startKnocklog,
  synFlood,
  waitFor,
  writeKnocklogConf,
  type Daemon,
  type KnocklogRun,
  type Lab,
} from '../../lab/lab.js';
import { socketDir, startSocketUlogd } from '../../lab/socket.js';

const CLOSED_MS = 500;
const ACCEPT = (port: number) => `INPUT -s %IP% -p tcp --dport ${port} -j ACCEPT`;
const DOOR = (name: string, sequence: string, port: number) => `[${name}]
  sequence = ${sequence}
  seq_timeout = 5
  start_command = iptables -I ${ACCEPT(port)}
  cmd_timeout = 2
  stop_command = iptables -D ${ACCEPT(port)}
`;
/** The spoofed flood: bounded by its count and by `timeout`; the lab's server is its only target. */
const FLOOD = { count: 20_000, gapUs: 100, timeoutS: 30 };

/** `knocklog knock --wait PORT` of `ports`; the ms it took, or null when the port stayed closed. */
async function knockOpens(lab: Lab, ports: string[], port: number, timeoutMs = 8000): Promise<number | null> {
  const args = ['--wait', String(port), '--wait-timeout', String(timeoutMs), lab.server.v4, ...ports];
  // Still closed: knock exits 1, and run() rejects.
  const { stdout } = await knocklogKnock(lab, args).catch(() => ({ stdout: '' }));
  const took = new RegExp(`^port ${port} open after (\\d+) ms$`, 'm').exec(stdout);
  return took === null ? null : Number(took[1]);
}

/** Floods port 7000 and, a second into it, knocks `ports`; says what happened (t.diagnostic) and returns it. */
async function knockDuringFlood(t: { diagnostic: (m: string) => void }, lab: Lab, ports: string[], port: number) {
  const started = Date.now();
  const sending = synFlood(lab, 7000, FLOOD);
  // Into the flood: the knock must come while hping3 still sends.
  await new Promise((r) => setTimeout(r, 1000));
  const ms = await knockOpens(lab, ports, port);
  const during = (Date.now() - started) / 1000;
  const sent = await sending;
  const seconds = (Date.now() - started) / 1000;
  t.diagnostic(`flood: ${sent} spoofed SYNs to port 7000 in ${seconds.toFixed(1)} s (${Math.round(sent / seconds)}/s); `
    + `knock ${ports.join(',')} done ${during.toFixed(1)} s in; port ${port} opened: `
    + `${ms === null ? 'no' : `after ${ms} ms`}`);
  assert.ok(during < seconds, 'the knock ended while the flood still ran');
  return ms;
}

interface SocketLab {
  lab: Lab;
  kl: KnocklogRun;
  conf: string;
  source: string;
  ulogd: Daemon;
  /** ulogd2's own log: empty unless it reports an error. */
  ulogdLog: () => string;
}

/**
 * The lab of the socket path: DROP for 2222, the `--via nflog` rules of a door
 * 7000,8000,9000 -> 2222, knocklog listening on a socket in a directory only
 * its reader (knocklog) owns, and ulogd2 (root, as by default) connected to it.
 */
async function socketLab(t: { after: (fn: () => Promise<void>) => void }): Promise<SocketLab> {
  const lab = await createLab();
  t.after(() => lab.destroy());
  const socket = `${socketDir(lab, 'ulogd-socket')}/ulogd.sock`;
  const sources = `  Sources = ulogd-socket:${socket}\n`;
  const conf = writeKnocklogConf(lab, 'knockd.conf', DOOR('ssh', '7000,8000,9000', 2222), sources);
  await lab.installStandardFirewall({ protectedPort: 2222 });
  const rules = await loadKnocklogRules(lab, conf, { via: 'nflog' });
  assert.match(rules, /-j NFLOG --nflog-group \d+ --nflog-prefix "\S+" --nflog-size 128 --nflog-threshold 1\n/);
  const ruleLines = rules.split('\n').filter((l) => l.startsWith('-A')).join('\n');
  assert.doesNotMatch(ruleLines, /limit/, 'no budget on this path');
  await lab.listen(2222);
  const kl = await startKnocklog(lab, { conf, sources: [`ulogd-socket:${socket}`] });
  const ulogd = await startSocketUlogd(lab, 'ulogd-socket', conf, lab.nflogGroup, async () => {
    await kl.waitForMessage(/: ulogd2 connected$/);
  });
  assert.match(ulogd.printed, new RegExp(`^file="${socket.replace(/[.]/g, '\\.')}"$`, 'm'));
  assert.ok(ulogd.daemon.running, ulogd.own());
  return { lab, kl, conf, source: `ulogd-socket:${socket}`, ulogd: ulogd.daemon, ulogdLog: ulogd.own };
}

test('ulogd-socket: `rules --via nflog`, ulogd2 with `rules --ulogd-conf`, `run -s ulogd-socket:PATH`: '
  + 'the door opens for the knocker only', async (t) => {
  if (!requireLabOrSkip(t, ['ulogd'])) return;
  const { lab, kl, ulogdLog } = await socketLab(t);
  const other = await lab.addClientAddress(3);
  assert.equal(await lab.canConnect(2222, 4, CLOSED_MS), false, 'closed before any knock');

  const ms = await knockOpens(lab, ['7000', '8000', '9000'], 2222);
  assert.notEqual(ms, null, kl.messages().join('\n'));
  t.diagnostic(`opened ${ms} ms after the last knock`);
  await kl.waitForMessage(new RegExp(`^${lab.client.v4.replace(/[.]/g, '\\.')}: ssh: OPEN SESAME$`));
  assert.equal(await lab.canConnect(2222, 4, CLOSED_MS, other.v4), false, 'open for the knocking address only');
  await waitFor('the door to close', async () => !(await lab.canConnect(2222, 4, CLOSED_MS)), { timeoutMs: 10_000 });
  assert.equal(ulogdLog(), '', 'ulogd2 reported no error');
});

test('ulogd-socket: after knocklog restarts, ulogd2 reconnects by itself (losing one record), or at once on SIGHUP',
  async (t) => {
  if (!requireLabOrSkip(t, ['ulogd'])) return;
  const { lab, kl, conf, source, ulogd } = await socketLab(t);
  await kl.stop();
  const again = await startKnocklog(lab, { conf, sources: [source], name: 'knocklog-again' });
  // ulogd2 learns of the restart when its next send fails: that record (the first knock) is lost.
  const first = await knockOpens(lab, ['7000', '8000', '9000'], 2222, 2000);
  await again.waitForMessage(/: ulogd2 connected$/);
  const second = await knockOpens(lab, ['7000', '8000', '9000'], 2222);
  t.diagnostic(`after a restart: first knock ${first === null ? 'lost' : `opened after ${first} ms`}, `
    + `second ${second === null ? 'lost' : `opened after ${second} ms`}`);
  assert.notEqual(second, null, 'the knock after the reconnect opens');
  await waitFor('the door to close', async () => !(await lab.canConnect(2222, 4, CLOSED_MS)), { timeoutMs: 10_000 });

  await again.stop();
  const third = await startKnocklog(lab, { conf, sources: [source], name: 'knocklog-third' });
  process.kill(ulogd.child.pid ?? 0, 'SIGHUP');
  await third.waitForMessage(/: ulogd2 connected$/);
  assert.notEqual(await knockOpens(lab, ['7000', '8000', '9000'], 2222), null, 'after SIGHUP the first knock opens');
});

test('ulogd-socket: during a spoofed SYN flood at a knock port, the legitimate knock still opens', async (t) => {
  if (!requireLabOrSkip(t, ['ulogd', 'hping3'])) return;
  const { lab } = await socketLab(t);
  const ms = await knockDuringFlood(t, lab, ['7000', '8000', '9000'], 2222);
  assert.notEqual(ms, null, 'the door opened during the flood');
});

test('kern.log rules (--via log): a flood at one door\'s port spends that port\'s budget only; '
  + 'another door still opens', async (t) => {
  if (!requireLabOrSkip(t, ['hping3'])) return;
  const lab = await createLab();
  t.after(() => lab.destroy());
  const doors = DOOR('flooded', '7000,8000,9000', 2221) + DOOR('other', '6000,6001,6002', 2222);
  const conf = writeKnocklogConf(lab, 'knockd.conf', doors);
  await lab.installStandardFirewall({ protectedPort: [2221, 2222] });
  await loadKnocklogRules(lab, conf);
  await lab.listen(2222);
  await startKnocklog(lab, { conf, sources: ['kmsg'] });
  const ms = await knockDuringFlood(t, lab, ['6000', '6001', '6002'], 2222);
  assert.notEqual(ms, null, 'the other door opened during the flood at 7000');
});
