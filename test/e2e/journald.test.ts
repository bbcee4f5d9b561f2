// The `journal` source against a real systemd-journald: `knocklog run` in the
// server namespace follows `journalctl -k -f -o json` as its unprivileged
// reader does on a systemd host. A real knock opens the door; forgeries that
// journald accepts from user space (its syslog socket, its native socket,
// /dev/kmsg) open nothing; the saved cursor resumes across a restart.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { startJournald, type Journald } from '../../lab/journald.js';
import {
  createLab,
  knocklogKnock,
  loadKnocklogRules,
  requireLabOrSkip,
  run,
  startKnocklog,
  waitFor,
  waitForLines,
  writeKnocklogConf,
  type KnocklogRun,
  type Lab,
} from '../../lab/lab.js';

/** How long a connection attempt to a closed (dropped) port waits before it counts as closed. */
const CLOSED_MS = 500;
/** Long enough for knocks made while knocklog is stopped to be fresh when it reads them after its restart. */
const SEQ_TIMEOUT = 20;

function door(port: number): string {
  const rule = `INPUT -s %IP% -p tcp --dport ${port} -j ACCEPT`;
  return `[ssh]
  sequence = 7000,8000,9000
  seq_timeout = ${SEQ_TIMEOUT}
  start_command = iptables -I ${rule}
  cmd_timeout = 2
  stop_command = iptables -D ${rule}
`;
}

const re = (s: string) => new RegExp(`^${s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`);
/** What knocklog said of `addr`'s knocks (not the close: cmd_timeout may or may not have passed by then). */
const about = (kl: KnocklogRun, addr: string) =>
  kl.messages().filter((m) => m.startsWith(`${addr}: `) && !m.endsWith(': command timeout'));

/**
 * The journal source follows from when journalctl started: knock from `marker`
 * until each knocklog counts one, so the knocks sent from then on are seen.
 */
async function following(lab: Lab, marker: string, kls: KnocklogRun[]): Promise<void> {
  await waitFor(
    'knocklog to follow the journal',
    async () => {
      await lab.canConnect(7000, 4, 100, marker);
      await new Promise((r) => setTimeout(r, 500));
      return kls.every((kl) => kl.count(re(`${marker}: ssh: Stage 1`)) > 0);
    },
    { timeoutMs: 20_000, intervalMs: 0, describe: () => kls.map((kl) => kl.messages().join('\n')).join('\n---\n') },
  );
}

/** Processes in process group `pgid`. */
function groupMembers(pgid: number): number[] {
  const out: number[] = [];
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      if (Number(/\) \S+ \d+ (\d+) /.exec(readFileSync(`/proc/${pid}/stat`, 'utf8'))?.[1])
        === pgid) out.push(Number(pid));
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

/**
 * Stops knocklog as systemd stops a service: SIGTERM to every process of the
 * group, then waits until all of them exited (the lab's stop() kills the rest
 * of the group as soon as the main process exits, which can cut the reader's
 * last save of its position short).
 */
async function stopAsSystemd(kl: KnocklogRun): Promise<void> {
  const pgid = kl.daemon.child.pid;
  assert.ok(pgid !== undefined);
  process.kill(-pgid, 'SIGTERM');
  await waitFor(`every process of ${kl.daemon.name} to exit`, () => groupMembers(pgid).length === 0,
    { timeoutMs: 15_000 });
  await kl.stop();
}

test('real journald: a LOG knock opens the door; logger and /dev/kmsg forgeries open nothing; '
  + 'the cursor resumes across a restart', async (t) => {
  if (!requireLabOrSkip(t, ['journald'])) return;
  const lab = await createLab();
  let journald: Journald | null = null;
  t.after(async () => {
    await lab.destroy();
    await journald?.stop();
  });
  const conf = writeKnocklogConf(lab, 'knockd.conf', door(2222));
  await lab.installStandardFirewall();
  await loadKnocklogRules(lab, conf);
  await lab.listen(2222);
  const client = lab.client.v4;
  const marker = (await lab.addClientAddress(3)).v4;
  const forger = (await lab.addClientAddress(4)).v4;
  const jd = await startJournald(lab);
  journald = jd;
  // journald holds every line the kernel still has: this lab's carry its prefix.
  const ours = async (text: string) =>
    (await jd.records(text)).filter((r) => String(r['MESSAGE']).includes(`${lab.prefix} IN=`));
  let kl = await startKnocklog(lab, { conf, sources: ['journal'], name: 'on-journal' });
  // The same records by two sources (audit L2): each knock counts once.
  const both = await startKnocklog(lab,
    { conf, sources: ['journal', 'kmsg'], name: 'on-journal-and-kmsg', dryRun: true });
  await following(lab, marker, [kl, both]);

  // 1. A real knock, logged by the kernel's LOG target, read back through journald.
  assert.equal(await lab.canConnect(2222, 4, CLOSED_MS), false, 'closed before the knock');
  const { stdout } = await knocklogKnock(lab, ['--wait', '2222', lab.server.v4, '7000', '8000', '9000']);
  assert.match(stdout, /^port 2222 open after \d+ ms$/m);
  t.diagnostic(`through journald: ${stdout.trim()}`);
  await kl.waitForMessage(re(`ssh: running command: iptables -I INPUT -s ${client} -p tcp --dport 2222 -j ACCEPT`));
  assert.equal(await lab.canConnect(2222, 4, CLOSED_MS, marker), false, 'open for the knocking address only');
  await both.waitForMessage(re(`${client}: ssh: OPEN SESAME`));
  const sequence = [`${client}: ssh: Stage 1`, `${client}: ssh: Stage 2`, `${client}: ssh: Stage 3`,
    `${client}: ssh: OPEN SESAME`];
  assert.deepEqual(about(kl, client), sequence);
  assert.deepEqual(about(both, client), sequence, 'journal and kmsg carry the same records: counted once');
  // The first knock as the kernel logged it (/dev/kmsg) and as journald holds it.
  const real = (await waitForLines(lab.kmsg, 1)).find((l) => l.includes(` SRC=${client} `));
  assert.ok(real !== undefined, lab.kmsg.lines().join('\n'));
  const [record] = await ours(`SRC=${client} `);
  assert.ok(record !== undefined);
  assert.equal(record['_TRANSPORT'], 'kernel');
  assert.equal(record['SYSLOG_FACILITY'], '0');
  assert.equal(record['_SOURCE_MONOTONIC_TIMESTAMP'], /^\d+,\d+,(\d+),/.exec(real)?.[1],
    'the kernel\'s own stamp of the record');

  // 2. Forgeries of the whole sequence from `forger`, each way a local process can write to journald.
  const message = real.slice(real.indexOf(';') + 1);
  const forged = (dpt: number) => message.replace(/ SRC=\S+/, ` SRC=${forger}`).replace(/ DPT=\d+/, ` DPT=${dpt}`);
  const asNobody = ['setpriv', '--reuid', 'nobody', '--regid', 'nogroup', '--clear-groups'];
  for (const dpt of [7000, 8000, 9000]) {
    // Root's write to /dev/kmsg: the kernel files it under facility user; journald keeps _TRANSPORT=kernel (audit L7).
    writeFileSync('/dev/kmsg', `<4>${forged(dpt)}\n`);
    // Any user: journald's syslog socket (/dev/log on a systemd host), as the kernel's facility and tag.
    await run([...asNobody, 'logger', '--socket', jd.syslogSocket, '-p', 'kern.warning', '-t', 'kernel', forged(dpt)]);
    // Any user: the native protocol, claiming the trusted fields.
    const fields = [`MESSAGE=${forged(dpt)}`, '_TRANSPORT=kernel', 'SYSLOG_FACILITY=0', 'SYSLOG_IDENTIFIER=kernel',
      '_SOURCE_MONOTONIC_TIMESTAMP=1'];
    await run([...asNobody, 'logger', '--journald'], `${fields.join('\n')}\n`);
  }
  const kept = await waitFor('journald to hold the 9 forgeries', async () => {
    const r = await ours(`SRC=${forger} `);
    return r.length === 9 ? r : undefined;
  });
  const how = kept.map((r) => `${String(r['_TRANSPORT'])} facility ${String(r['SYSLOG_FACILITY'])}`).sort();
  t.diagnostic(`journald holds the forgeries as: ${[...new Set(how)].join('; ')}`);
  assert.deepEqual(new Set(how), new Set(['kernel facility 1', 'syslog facility 1', 'journal facility 0']));
  // A real knock logged after them: once each knocklog counts it, it has read past the forgeries.
  const seen = kl.count(re(`${marker}: ssh: Stage 1`));
  const seenBoth = both.count(re(`${marker}: ssh: Stage 1`));
  await lab.canConnect(7000, 4, CLOSED_MS, marker);
  await waitFor('both knocklogs to count the knock after the forgeries', () =>
    kl.count(re(`${marker}: ssh: Stage 1`)) > seen && both.count(re(`${marker}: ssh: Stage 1`)) > seenBoth,
  );
  assert.deepEqual(about(kl, forger), []);
  assert.deepEqual(about(both, forger), []);
  assert.equal(await lab.canConnect(2222, 4, CLOSED_MS, forger), false, 'the forgeries opened nothing');

  // 3. Restart: knocks made while knocklog is stopped count after it (the saved cursor), none twice.
  await kl.waitForMessage(re(`${client}: ssh: command timeout`));
  await stopAsSystemd(kl);
  await knocklogKnock(lab, [lab.server.v4, '7000', '8000']);
  await waitFor('journald to hold the knocks made while knocklog is stopped',
    async () => (await ours(`SRC=${client} `)).length === 5);
  kl = await startKnocklog(lab, { conf, sources: ['journal'], name: 'on-journal' });
  await kl.waitForMessage(re(`${client}: ssh: Stage 2`));
  await knocklogKnock(lab, [lab.server.v4, '9000']);
  await kl.waitForMessage(re(`ssh: running command: iptables -I INPUT -s ${client} -p tcp --dport 2222 -j ACCEPT`));
  // The command runs after its line is logged.
  await waitFor('port 2222 to open', () => lab.canConnect(2222, 4, CLOSED_MS), { timeoutMs: 5000 });
  assert.deepEqual(about(kl, client), sequence,
    'the two knocks made while stopped, then the last: nothing before the stop again');
  // The knock from `marker` just before the stop is still within seq_timeout: re-read, it would count again.
  assert.deepEqual(about(kl, marker), [], kl.messages().join('\n'));

  await lab.destroy();
  await jd.stop();
  for (const dir of ['/run/systemd/journal', '/run/log/journal']) assert.equal(existsSync(dir), false,
    `${dir} is removed`);
});
