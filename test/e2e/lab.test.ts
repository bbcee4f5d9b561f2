// The real lab: real kernel, real firewall, real log daemons, real knockd.
// Each test builds its own lab and destroys it even when it fails.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type { KnockEvent } from '../../src/types.js';
import {
  createLab,
  requireLabOrSkip,
  run,
  runKnockd,
  runKnocklog,
  startRsyslog,
  startUlogd,
  waitFor,
  waitForLines,
  type Lab,
  type LabLog,
} from '../../lab/lab.js';

/** The knock records in `lines`, as the real CLI parses them from a file. */
async function parseWithCli(lab: Lab, log: LabLog, lines: string[]): Promise<KnockEvent[]> {
  const file = lab.writeFile(`${log.name.replace(/\W+/g, '_')}.lines`, `${lines.join('\n')}\n`);
  const { stdout } = await runKnocklog(['parse', '--format', log.format, '--prefix', lab.prefix, file]);
  return stdout
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as KnockEvent);
}

test('real LOG and NFLOG records of TCP, UDP and IPv6 knocks, from /dev/kmsg, rsyslog and ulogd2, '
  + 'parse with `knocklog parse`', async (t) => {
  if (!requireLabOrSkip(t, ['rsyslog', 'ulogd', 'knock'])) return;
  const lab = await createLab();
  t.after(() => lab.destroy());
  await lab.installStandardFirewall({ knock: ['7000:tcp', '8000:udp', '9000:tcp'], via: 'both' });
  const ulogd = await startUlogd(lab);
  const rsyslog = await startRsyslog(lab);

  // A userspace forgery of a knock record, written where the kernel writes:
  // the kernel files it under the user facility, so no kernel source may accept it.
  const forged = `<4>${lab.prefix} IN=${lab.serverIf} OUT= MAC=2e:cb:25:4d:68:c8:a2:02:1d:49:d3:4c:08:00 `
    + `SRC=10.66.6.6 DST=${lab.server.v4} LEN=60 TOS=0x00 PREC=0x00 TTL=64 ID=1 DF `
    + 'PROTO=TCP SPT=4242 DPT=7000 WINDOW=64240 RES=0x00 SYN URGP=0 \n';
  writeFileSync('/dev/kmsg', forged);

  await lab.knock([7000]);
  await lab.knock([8000], { udp: true });
  await lab.knock([9000], { family: 6 });

  const want = [
    { src: lab.client.v4, dst: lab.server.v4, proto: 'tcp', dpt: 7000, flags: ['SYN'] },
    { src: lab.client.v4, dst: lab.server.v4, proto: 'udp', dpt: 8000, flags: [] },
    { src: lab.client.v6, dst: lab.server.v6, proto: 'tcp', dpt: 9000, flags: ['SYN'] },
  ];
  const sources: Array<[LabLog, number]> = [
    [lab.kmsg, 4], // the 3 knocks and the forgery
    [rsyslog.kernLog, 3],
    [rsyslog.kernPreciseLog, 3],
    [ulogd.logemu, 3],
    [ulogd.json, 3],
  ];
  const parsed = new Map<LabLog, KnockEvent[]>();
  for (const [log, count] of sources) {
    const lines = await waitForLines(log, count);
    assert.equal(lines.length, count, `${log.name}:\n${lines.join('\n')}`);
    const events = await parseWithCli(lab, log, lines);
    parsed.set(log, events);
    const got = events.map(({ src, dst, proto, dpt, flags }) => ({ src, dst, proto, dpt, flags }))
      .sort((a, b) => a.dpt - b.dpt);
    assert.deepEqual(got, want, `${log.name}:\n${lines.join('\n')}`);
    for (const e of events) {
      assert.equal(e.prefix, lab.prefix, log.name);
      assert.equal(e.in, lab.serverIf, log.name);
      assert.ok(Number.isInteger(e.spt) && e.spt > 0, `${log.name}: spt ${e.spt}`);
    }
  }
  await rsyslog.stop(); // frees the machine-wide imklog lock for other labs

  // The forgery sits in /dev/kmsg (rejected above) and in rsyslog's user.log, never in kern.log.
  assert.match(readFileSync(rsyslog.userLogPath, 'utf8'), /SRC=10\.66\.6\.6/);
  assert.doesNotMatch(readFileSync(rsyslog.kernLog.path, 'utf8'), /SRC=10\.66\.6\.6/);
  // rsyslog stamps lines when it reads them; the kernel's [uptime] in them is the packet's own time.
  const uptimes = (log: LabLog) => parsed.get(log)!.map((e) => e.uptime);
  assert.ok(uptimes(lab.kmsg).every((u) => typeof u === 'number' && u > 0));
  assert.deepEqual(uptimes(rsyslog.kernLog), uptimes(lab.kmsg));
  assert.deepEqual(uptimes(rsyslog.kernPreciseLog), uptimes(lab.kmsg));
  // ulogd2 carries the wall-clock time of the packet.
  for (const log of [ulogd.logemu, ulogd.json]) assert.ok(parsed.get(log)!.every((e) => e.time !== null), log.name);
});

test('labs never share a subnet or a log prefix, even labs of processes with one pid (pids come round again)',
  async (t) => {
    if (!requireLabOrSkip(t)) return;
    // Each in a new PID namespace, where it is pid 1: what two test files look like whose pids agree
    // (pid_max may be 32768, and one run of the suite starts about 7,000 processes).
    const lab = new URL('../../lab/lab.js', import.meta.url).href;
    const script = `const { Lab } = await import(${JSON.stringify(lab)});
      const l = new Lab(); console.log(process.pid, l.client.v4, l.client.v6, l.prefix); await l.destroy();`;
    const seen: string[] = [];
    for (let i = 0; i < 3; i++) {
      const { stdout } = await run(['unshare', '--pid', '--fork', '--kill-child', process.execPath,
        '--input-type=module', '-e', script]);
      const [pid = '', v4 = '', v6 = '', prefix = ''] = stdout.trim().split(' ');
      assert.equal(pid, '1');
      seen.push(v4, v6, prefix);
    }
    // The kernel log holds every earlier lab's lines: one that shared the subnet or prefix would be read as this
    // one's.
    assert.equal(new Set(seen).size, seen.length, seen.join(' '));
  });

test('a lab takes no subnet that a line in the kernel log names, even with its index registry gone', async (t) => {
  if (!requireLabOrSkip(t)) return;
  const lab = new URL('../../lab/lab.js', import.meta.url).href;
  const script = `const { Lab } = await import(${JSON.stringify(lab)});
    const l = new Lab(); console.log(l.prefix, l.client.v4); await l.destroy();`;
  // Each with a registry of its own, empty: what a /run emptied without a reboot (a container's) looks like.
  const claim = async () => {
    const registry = mkdtempSync('/tmp/knocklog-lab-registry-');
    try {
      const { stdout } = await run(['env', `KNOCKLOG_LAB_SUBNETS=${registry}`, process.execPath,
        '--input-type=module', '-e', script]);
      const [prefix = '', v4 = ''] = stdout.trim().split(' ');
      return { prefix, v4 };
    } finally {
      rmSync(registry, { recursive: true, force: true });
    }
  };
  const first = await claim();
  // A knock record of the first lab, as its firewall would have logged it.
  writeFileSync('/dev/kmsg', `<4>${first.prefix} IN=lo OUT= SRC=${first.v4} DST=10.255.255.1 PROTO=TCP DPT=1 \n`);
  const second = await claim();
  assert.notEqual(second.prefix, first.prefix);
  assert.notEqual(second.v4, first.v4);
});

test('the protected port drops the client until its DROP rule is removed; the listener answers then', async (t) => {
  if (!requireLabOrSkip(t)) return;
  const lab = await createLab();
  t.after(() => lab.destroy());
  await lab.installStandardFirewall();
  await lab.listen(2222);
  assert.equal(await lab.canConnect(2222, 4), false);
  assert.equal(await lab.canConnect(2222, 6), false);
  const drop = ['-D', 'INPUT', '-p', 'tcp', '--dport', '2222', '-j', 'DROP'];
  await lab.serverExec('iptables', drop);
  await lab.serverExec('ip6tables', drop);
  assert.equal(await lab.canConnect(2222, 4), true);
  assert.equal(await lab.canConnect(2222, 6), true);
});

test('knockd 0.8 side by side: the right sequence opens the port for cmd_timeout, a wrong one does not', async (t) => {
  if (!requireLabOrSkip(t, ['knockd', 'knock'])) return;
  const lab = await createLab();
  t.after(() => lab.destroy());
  await lab.installStandardFirewall();
  await lab.listen(2222);
  const knockd = await runKnockd(
    lab,
    `[options]
[openSSH]
  sequence = 7000,8000,9000
  seq_timeout = 5
  start_command = iptables -I INPUT -s %IP% -p tcp --dport 2222 -j ACCEPT
  cmd_timeout = 2
  stop_command = iptables -D INPUT -s %IP% -p tcp --dport 2222 -j ACCEPT
`,
  );
  assert.equal(await lab.canConnect(2222), false);

  await lab.knock([7000, 9000, 8000]);
  await waitFor('knockd to capture the wrong sequence', () => knockd.knocksSeen(8000) === 1,
    { describe: () => knockd.daemon.output });
  assert.equal(await lab.canConnect(2222), false);
  assert.doesNotMatch(knockd.log(), /OPEN SESAME/);

  await lab.knock([7000, 8000, 9000]);
  await waitFor('the door to open', () => lab.canConnect(2222), { describe: () => knockd.log() });
  assert.match(knockd.log(), new RegExp(`${lab.client.v4.replaceAll('.', '\\.')}: openSSH: OPEN SESAME`));
  await waitFor('the door to close after cmd_timeout', async () => !(await lab.canConnect(2222)),
    { describe: () => knockd.log() });
  assert.match(knockd.log(), /openSSH: command timeout/);
});
