// knocklog end to end: `knocklog run` in the server namespace of a real lab,
// reading the kernel's records of real knocks from each kind of source, and
// opening and closing a real port with real iptables commands.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  createLab,
  journalRecord,
  knocklogKnock,
  loadKnocklogRules,
  requireLabOrSkip,
  run,
  runKnockd,
  startKnocklog,
  startRsyslog,
  startUlogd,
  waitFor,
  waitForLines,
  writeKnocklogConf,
  type Family,
  type Lab,
} from '../../lab/lab.js';

const CMD_TIMEOUT = 2;
/** How long a connection attempt to a closed (dropped) port waits before it counts as closed. */
const CLOSED_MS = 500;

/** A door opening `port` for the knocking address (IPv4 and IPv6) for CMD_TIMEOUT seconds. */
function door(port: number, { sequence = '7000,8000,9000', name = 'ssh', cmdTimeout = CMD_TIMEOUT } = {}): string {
  const rule = `INPUT -s %IP% -p tcp --dport ${port} -j ACCEPT`;
  return `[${name}]
  sequence = ${sequence}
  seq_timeout = 5
  start_command = iptables -I ${rule}
  start_command_6 = ip6tables -I ${rule}
  cmd_timeout = ${cmdTimeout}
  stop_command = iptables -D ${rule}
  stop_command_6 = ip6tables -D ${rule}
`;
}

const re = (s: string) => new RegExp(`^${s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`);

/** Waits until the port accepts connections from the client (or from `from`). */
function opens(lab: Lab, port: number, family: Family = 4, from?: string): Promise<true> {
  return waitFor(`port ${port} to open (IPv${family})`, () => lab.canConnect(port, family, CLOSED_MS, from),
    { timeoutMs: 10_000 });
}

/** Waits until the port drops the client's connections again. */
function closes(lab: Lab, port: number, family: Family = 4): Promise<true> {
  return waitFor(`port ${port} to close (IPv${family})`, async () => !(await lab.canConnect(port, family, CLOSED_MS)), {
    timeoutMs: (CMD_TIMEOUT + 8) * 1000,
  });
}

/** The ACCEPT rules for `port` in the server's INPUT chain. */
async function acceptRules(lab: Lab, port: number, family: Family = 4): Promise<number> {
  const { stdout } = await lab.serverExec(family === 4 ? 'iptables' : 'ip6tables', ['-S', 'INPUT']);
  return stdout.split('\n').filter((l) => l.includes(`--dport ${port} -j ACCEPT`)).length;
}

/** A lab with the standard firewall, `knocklog rules` of door(2222) loaded, and a listener on 2222. */
async function doorLab(t: { after: (fn: () => Promise<void>) => void }, cmdTimeout = CMD_TIMEOUT):
  Promise<{ lab: Lab; conf: string }> {
  const lab = await createLab();
  t.after(() => lab.destroy());
  const conf = writeKnocklogConf(lab, 'knockd.conf', door(2222, { cmdTimeout }));
  await lab.installStandardFirewall();
  await loadKnocklogRules(lab, conf);
  await lab.listen(2222);
  return { lab, conf };
}

test('rsyslog kern.log: `knocklog knock --wait` opens the port for the knocking address only, for cmd_timeout; '
  + 'knock does too; a wrong sequence opens nothing', async (t) => {
  if (!requireLabOrSkip(t, ['rsyslog', 'knock'])) return;
  const { lab, conf } = await doorLab(t);
  const other = await lab.addClientAddress(3);
  const rsyslog = await startRsyslog(lab);
  const kl = await startKnocklog(lab, { conf, sources: [`file:${rsyslog.kernLog.path}`] });
  const client = lab.client.v4;

  assert.equal(await lab.canConnect(2222, 4, CLOSED_MS), false, 'closed before any knock');

  await knocklogKnock(lab, [lab.server.v4, '7000', '9000', '8000']);
  // A knock from the other address, logged after the wrong sequence: once it is seen, so was all before it.
  await lab.canConnect(7000, 4, CLOSED_MS, other.v4);
  await kl.waitForMessage(re(`${other.v4}: ssh: Stage 1`));
  assert.equal(kl.count(/OPEN SESAME/), 0, kl.messages().join('\n'));
  assert.equal(await lab.canConnect(2222, 4, CLOSED_MS), false, 'a wrong sequence opens nothing');

  const { stdout } = await knocklogKnock(lab, ['--wait', '2222', lab.server.v4, '7000', '8000', '9000']);
  const took = /^port 2222 open after (\d+) ms$/m.exec(stdout);
  assert.ok(took, stdout);
  t.diagnostic(`knocklog knock: ${took[0]}`);
  await kl.waitForMessage(re(`ssh: running command: iptables -I INPUT -s ${client} -p tcp --dport 2222 -j ACCEPT`));
  assert.equal(kl.count(re(`${client}: ssh: OPEN SESAME`)), 1, kl.messages().join('\n'));
  assert.equal(await lab.canConnect(2222, 4, CLOSED_MS), true);
  assert.equal(await lab.canConnect(2222, 4, CLOSED_MS, other.v4), false, 'open for the knocking address only');
  await closes(lab, 2222);
  await kl.waitForMessage(re(`${client}: ssh: command timeout`));
  assert.equal(await acceptRules(lab, 2222), 0);

  await lab.knock([7000, 8000, 9000]); // knockd's client
  await opens(lab, 2222);
  assert.equal(await lab.canConnect(2222, 4, CLOSED_MS, other.v4), false);
  await closes(lab, 2222);
  assert.equal(kl.count(re(`${client}: ssh: OPEN SESAME`)), 2);
});

test('every other source: ulogd2 LOGEMU and JSON files, journald JSON on stdin, /dev/kmsg; '
  + 'each opens and closes its port', async (t) => {
  if (!requireLabOrSkip(t, ['ulogd', 'nft'])) return;
  const lab = await createLab();
  t.after(() => lab.destroy());
  const ulogd = await startUlogd(lab);
  // One knocklog per source, each with its own port, all seeing the same knocks.
  const setups = [
    { source: `ulogd:${ulogd.logemu.path}`, port: 2201 },
    { source: `ulogd:${ulogd.json.path}`, port: 2202 },
    { source: 'stdin', port: 2203 },
    { source: 'kmsg', port: 2204 },
  ];
  const ports = setups.map((s) => s.port);
  const confs = setups.map((s) => writeKnocklogConf(lab, `knockd-${s.port}.conf`, door(s.port)));
  await lab.installStandardFirewall({ protectedPort: ports });
  await loadKnocklogRules(lab, confs[0]!, { via: 'log' }); // for /dev/kmsg (and stdin, fed from it)
  await loadKnocklogRules(lab, confs[0]!, { backend: 'nft', via: 'nflog' }); // for ulogd2
  for (const p of ports) await lab.listen(p);
  const kls = await Promise.all(setups.map((s, i) =>
    startKnocklog(lab, { conf: confs[i]!, sources: [s.source], name: `knocklog-${s.port}` })));

  // journald's records of the kernel's lines, as `journalctl -o json` prints them, from /dev/kmsg.
  const stdinRun = kls[2]!;
  let fed = lab.kmsg.lines().length;
  const pump = setInterval(() => {
    const lines = lab.kmsg.lines();
    for (; fed < lines.length; fed++) stdinRun.daemon.write(`${journalRecord(lines[fed]!)}\n`);
  }, 10);
  t.after(() => clearInterval(pump));

  assert.deepEqual(await Promise.all(ports.map((p) => lab.canConnect(p, 4, CLOSED_MS))), ports.map(() => false),
    'closed before the knock');
  await knocklogKnock(lab, [lab.server.v4, '7000', '8000', '9000']);
  await Promise.all(ports.map((p) => opens(lab, p)));
  for (const kl of kls) await kl.waitForMessage(re(`${lab.client.v4}: ssh: OPEN SESAME`));
  await Promise.all(ports.map((p) => closes(lab, p)));
  for (const kl of kls) await kl.waitForMessage(re(`${lab.client.v4}: ssh: command timeout`));
  // The NFLOG rules of `knocklog rules --backend nft` sent ulogd2 the three knocks and nothing else.
  for (const log of [ulogd.logemu, ulogd.json]) assert.equal((await waitForLines(log, 3)).length, 3, log.name);
});

test('UDP steps and IPv6: `7000,8000:udp,9000` opens with start_command_6 for an IPv6 knock, '
  + 'with start_command for IPv4', async (t) => {
  if (!requireLabOrSkip(t)) return;
  const lab = await createLab();
  t.after(() => lab.destroy());
  const conf = writeKnocklogConf(lab, 'knockd.conf', door(2222, { sequence: '7000,8000:udp,9000' }));
  await lab.installStandardFirewall();
  const rules4 = await loadKnocklogRules(lab, conf, { family: 4 });
  await loadKnocklogRules(lab, conf, { family: 6 });
  assert.match(rules4, /-p udp --dport 8000/);
  await lab.listen(2222);
  const other = await lab.addClientAddress(3);
  const kl = await startKnocklog(lab, { conf, sources: ['kmsg'] });

  assert.equal(await lab.canConnect(2222, 6, CLOSED_MS), false);
  const { stdout } = await knocklogKnock(lab, ['-6', '--wait', '2222', lab.server.v6, '7000', '8000:udp', '9000']);
  assert.match(stdout, /^port 2222 open after \d+ ms$/m);
  await kl.waitForMessage(
    re(`ssh: running command: ip6tables -I INPUT -s ${lab.client.v6} -p tcp --dport 2222 -j ACCEPT`));
  assert.equal(await lab.canConnect(2222, 6, CLOSED_MS, other.v6), false, 'not for another IPv6 address');
  assert.equal(await lab.canConnect(2222, 4, CLOSED_MS), false, 'not for the client\'s IPv4 address');

  await knocklogKnock(lab, ['--wait', '2222', lab.server.v4, '7000', '8000:udp', '9000']);
  await kl.waitForMessage(
    re(`ssh: running command: iptables -I INPUT -s ${lab.client.v4} -p tcp --dport 2222 -j ACCEPT`));
  await Promise.all([closes(lab, 2222, 6), closes(lab, 2222, 4)]);
  await kl.waitForMessage(re(`${lab.client.v6}: ssh: command timeout`));
  assert.equal(await acceptRules(lab, 2222, 6), 0);
});

/** uptime as the kernel prints it in a record: `[ 5159.277121]` (CLOCK_MONOTONIC, the clock knocklog reads it on). */
function kernelStamp(): string {
  const us = process.hrtime.bigint() / 1000n;
  return `[${String(us / 1_000_000n).padStart(5)}.${String(us % 1_000_000n).padStart(6, '0')}]`;
}

test('forged lines: `logger -p kern.warning -t kernel` lands in the all-facility file, not in kern.log, '
  + 'and opens nothing; knocklog on the all-facility file warns', async (t) => {
  if (!requireLabOrSkip(t, ['rsyslog'])) return;
  const { lab, conf } = await doorLab(t);
  const other = await lab.addClientAddress(3);
  const rsyslog = await startRsyslog(lab);
  const onKern = await startKnocklog(lab, { conf, sources: [`file:${rsyslog.kernLog.path}`], name: 'on-kern-log' });
  const onAll = await startKnocklog(lab,
    { conf, sources: [`file:${rsyslog.allLogPath}`], name: 'on-all-log', dryRun: true });

  // A real record of a knock (from the other address) is the template: the forgeries differ only in SRC, DPT and time.
  await lab.canConnect(7000, 4, CLOSED_MS, other.v4);
  const [real] = await waitForLines(lab.kmsg, 1);
  const message = real!.slice(real!.indexOf(';') + 1);
  for (const dpt of [7000, 8000, 9000]) {
    const forged = message.replace(/ SRC=\S+/, ` SRC=${lab.client.v4}`).replace(/ DPT=\d+/, ` DPT=${dpt}`);
    await run(['logger', '--socket', rsyslog.socketPath, '-p', 'kern.warning', '-t', 'kernel',
      `${kernelStamp()} ${forged}`]);
  }
  // Pointed at the wrong file, knocklog cannot tell them from the kernel's: the door "opens" (a dry run here).
  await onAll.waitForMessage(re(`${lab.client.v4}: ssh: OPEN SESAME`));
  const forgedIn = (path: string) => readFileSync(path, 'utf8').split('\n')
    .filter((l) => l.includes(`kernel: [`) && l.includes(`SRC=${lab.client.v4} `));
  assert.equal(forgedIn(rsyslog.allLogPath).length, 3);
  assert.equal(forgedIn(rsyslog.kernLog.path).length, 0, 'rsyslog files a userspace kern message under user');

  // The knocklog on kern.log saw the real knock, and nothing of the client.
  await onKern.waitForMessage(re(`${other.v4}: ssh: Stage 1`));
  assert.deepEqual(onKern.messages().filter((m) => m.includes(lab.client.v4)), []);
  assert.equal(await lab.canConnect(2222, 4, CLOSED_MS), false);
  assert.equal(await acceptRules(lab, 2222), 0);

  // Any other program's line tells the all-facility file apart.
  await run(['logger', '--socket', rsyslog.socketPath, '-t', 'lab-app', 'an ordinary message']);
  const warning = await onAll.waitForMessage(/holds lines from programs other than the kernel/);
  assert.match(warning, new RegExp(`^file:${rsyslog.allLogPath.replace(/[.]/g, '\\.')} `
    + 'holds lines from programs other than the kernel \\(e\\.g\\. "lab-app"\\): any local user can forge'));
  assert.equal(onKern.count(/programs other than the kernel/), 0);
});

test('side by side with knockd 0.8 on the same knocks: a wrong knock restarts in knocklog; '
  + 'a repeated sequence adds no second rule; a stop closes; doors sharing a first port both work', async (t) => {
  if (!requireLabOrSkip(t, ['knockd', 'knock'])) return;
  const lab = await createLab();
  t.after(() => lab.destroy());
  // knockd opens 2221, knocklog 2222: same sequence, same packets.
  const conf = writeKnocklogConf(lab, 'knocklog.conf', door(2222));
  await lab.installStandardFirewall({ protectedPort: [2221, 2222] });
  await loadKnocklogRules(lab, conf);
  for (const p of [2221, 2222]) await lab.listen(p);
  // A long cmd_timeout: knockd's rules must still be there when they are counted (rows 2 and 3).
  const knockd = await runKnockd(lab, `[options]\n${door(2221, { cmdTimeout: 30 })}`);
  const kl = await startKnocklog(lab, { conf, sources: ['kmsg'] });
  const client = lab.client.v4;
  const rows: string[][] = [];

  // Row 1: 7000 8000 7000 8000 9000.
  await lab.knock([7000, 8000, 7000, 8000, 9000]);
  await waitFor('knockd to capture the last knock', () => knockd.knocksSeen(9000) === 1,
    { describe: () => knockd.daemon.output });
  await kl.waitForMessage(re(`${client}: ssh: OPEN SESAME`));
  const knockdOpened = /OPEN SESAME/.test(knockd.log());
  // OPEN SESAME is logged before the start command runs: a single probe could come before the rule.
  const knocklogOpen = await opens(lab, 2222).then(() => true, () => false);
  assert.equal(knockdOpened, false, knockd.log());
  assert.equal(await lab.canConnect(2221, 4, CLOSED_MS), false);
  assert.equal(knocklogOpen, true);
  rows.push(['7000 8000 7000 8000 9000', knockdOpened ? 'opens' : 'no open', knocklogOpen ? 'opens' : 'no open']);
  await closes(lab, 2222);

  // Row 2: the full sequence twice.
  await lab.knock([7000, 8000, 9000, 7000, 8000, 9000]);
  await waitFor('knockd to capture both sequences', () => knockd.knocksSeen(9000) === 3,
    { describe: () => knockd.daemon.output });
  await kl.waitForMessage(re(`${client}: ssh: OPEN SESAME (already open: close timer restarted)`));
  const knockdRules = await waitFor('knockd to run start_command twice',
    async () => ((await acceptRules(lab, 2221)) === 2 ? 2 : undefined), {
    describe: () => knockd.log(),
  });
  const knocklogRules = await acceptRules(lab, 2222);
  assert.equal(knocklogRules, 1);
  assert.equal(kl.count(/running command: iptables -I /), 2, 'one start per open: row 1 and row 2');
  rows.push(['7000 8000 9000, twice', `${knockdRules} ACCEPT rules`, `${knocklogRules} ACCEPT rule`]);

  // Row 3: stopped with the door open, by SIGTERM to all of its processes (as systemd stops a service).
  await Promise.all([knockd.stop(), kl.stop()]);
  const leftByKnockd = await acceptRules(lab, 2221);
  const leftByKnocklog = await acceptRules(lab, 2222);
  assert.equal(leftByKnockd, 2, 'knockd\'s stop commands wait in forked children, which die with it');
  assert.equal(leftByKnocklog, 0, 'knocklog closes open doors when it stops');
  rows.push(['then SIGTERM, door open', `${leftByKnockd} ACCEPT rules left`, `${leftByKnocklog} left`]);
  for (let i = 0; i < leftByKnockd; i++) await lab.serverExec('iptables',
    ['-D', 'INPUT', '-s', client, '-p', 'tcp', '--dport', '2221', '-j', 'ACCEPT']);

  // Row 4: door B `7000,5555` listed before A: A's sequence.
  const doorB = '[B]\n  sequence = 7000,5555\n  start_command = true\n';
  const doorA = (port: number) => door(port, { name: 'A' });
  const knockdBA = await runKnockd(lab, `[options]\n${doorB}${doorA(2221)}`);
  const klBA = await startKnocklog(lab, { conf: writeKnocklogConf(lab, 'knocklog-ba.conf', `${doorB}${doorA(2222)}`),
    sources: ['kmsg'], name: 'knocklog-ba' });
  await lab.knock([7000, 8000, 9000]);
  await waitFor('knockd to capture the sequence', () => knockdBA.knocksSeen(9000) === 1,
    { describe: () => knockdBA.daemon.output });
  await klBA.waitForMessage(re(`${client}: A: OPEN SESAME`));
  const knockdOpenedA = knockdBA.log().includes(`${client}: A: OPEN SESAME`);
  const knocklogOpenA = await opens(lab, 2222).then(() => true, () => false);
  assert.equal(knockdOpenedA, false, knockdBA.log());
  assert.equal(await lab.canConnect(2221, 4, CLOSED_MS), false);
  assert.equal(knocklogOpenA, true);
  rows.push(['B 7000,5555 before A; A\'s knocks', knockdOpenedA ? 'A opens' : 'A: no open',
    knocklogOpenA ? 'A opens' : 'A: no open']);

  const table = [['knocks', 'knockd 0.8', 'knocklog'], ...rows];
  const widths = table[0]!.map((_, c) => Math.max(...table.map((r) => r[c]!.length)));
  for (const r of table) t.diagnostic(r.map((cell, c) => cell.padEnd(widths[c]!)).join(' | '));
});

test('a rule removed by hand while its door is open: the close finds it gone, says so once, '
  + 'and does not retry for ever', async (t) => {
  if (!requireLabOrSkip(t)) return;
  // Time for the hand to come first on a loaded machine: opens() alone may take a second.
  const { lab, conf } = await doorLab(t, 6);
  const kl = await startKnocklog(lab, { conf, sources: ['kmsg'] });

  await knocklogKnock(lab, [lab.server.v4, '7000', '8000', '9000']);
  await opens(lab, 2222);
  // The admin flushes it (or a firewall reload drops it) before knocklog's close.
  const rule = ['INPUT', '-s', lab.client.v4, '-p', 'tcp', '--dport', '2222', '-j', 'ACCEPT'];
  await lab.serverExec('iptables', ['-D', ...rule]);
  await kl.waitForMessage(/: ssh: the rule to delete is not there .*the door counts as closed$/, 15_000);
  await new Promise((r) => setTimeout(r, 2500)); // the first retries would come after 1 s and 2 s
  assert.deepEqual(kl.messages().filter((m) => /stop command failed/.test(m)), [], 'no retry');
  assert.equal(await acceptRules(lab, 2222), 0);
});
