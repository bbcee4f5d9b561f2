// `npm run demo`: knocklog end to end on this machine, told step by step. It
// builds the e2e lab (two network namespaces, lab/lab.ts), loads the
// rules `knocklog rules` prints, runs `knocklog run` in the server namespace,
// knocks from the client with `knocklog knock`, and removes everything again.
// Needs root and Linux (namespaces, iptables, /dev/kmsg).

import { performance } from 'node:perf_hooks';
import {
  createLab,
  e2eAvailable,
  knocklogKnock,
  loadKnocklogRules,
  startKnocklog,
  waitFor,
  writeKnocklogConf,
  type KnocklogRun,
  type Lab,
} from '../lab/lab.js';

const PORT = 2222;
const CMD_TIMEOUT = 3;
const CLOSED_MS = 1000;

let step = 0;
const say = (text: string) => console.log(text);
const heading = (text: string) => say(`\n${++step}. ${text}`);
const indent = (text: string) => text.trimEnd().split('\n').map((l) => `     ${l}`).join('\n');

/** Prints knocklog's log messages as they come, until the returned function is called. */
function follow(kl: KnocklogRun): () => void {
  let shown = 0;
  const show = () => {
    const m = kl.messages();
    for (; shown < m.length; shown++) say(`     knocklog: ${m[shown]}`);
  };
  const timer = setInterval(show, 20);
  return () => {
    show();
    clearInterval(timer);
  };
}

async function connect(lab: Lab, from?: string): Promise<boolean> {
  return lab.canConnect(PORT, 4, CLOSED_MS, from);
}

const verdict = (open: boolean) =>
  (open ? 'connected: the port is OPEN' : `no answer within ${CLOSED_MS} ms: the port is closed`);

async function demo(lab: Lab): Promise<void> {
  say(`   server namespace ${lab.serverNs}: ${lab.server.v4}`);
  const other = (await lab.addClientAddress(3)).v4;
  say(`   client namespace ${lab.clientNs}: ${lab.client.v4}, and a second client address ${other}`);

  heading(`The server's firewall drops new connections to port ${PORT}; a TCP server listens there.`);
  await lab.installStandardFirewall({ protectedPort: PORT });
  await lab.listen(PORT);
  say(indent((await lab.serverExec('iptables', ['-S', 'INPUT'])).stdout));

  heading('The door, in knockd.conf (knockd\'s own format):');
  const rule = `INPUT -s %IP% -p tcp --dport ${PORT} -j ACCEPT`;
  const conf = writeKnocklogConf(
    lab,
    'knockd.conf',
    '[openSSH]\n  sequence = 7000,8000,9000\n  seq_timeout = 5\n'
      + `  start_command = iptables -I ${rule}\n  cmd_timeout = ${CMD_TIMEOUT}\n  stop_command = iptables -D ${rule}\n`,
  );
  say(indent((await lab.serverExec('cat', [conf])).stdout));

  heading('`knocklog rules -c knockd.conf`: rules that only log SYNs to the knock ports '
    + '(loaded with iptables-restore --noflush; comments left out):');
  const rules = await loadKnocklogRules(lab, conf);
  say(indent(rules.split('\n').filter((l) => l !== '' && !l.startsWith('#')).join('\n')));

  heading('`knocklog run` in the server namespace, reading the kernel log from /dev/kmsg:');
  const kl = await startKnocklog(lab, { conf, sources: ['kmsg'] });
  const stopFollowing = follow(kl);
  await new Promise((r) => setTimeout(r, 100));

  heading(`From the client, connect to ${lab.server.v4}:${PORT}:`);
  say(`     ${verdict(await connect(lab))}`);

  heading(`Knock: \`knocklog knock --wait ${PORT} ${lab.server.v4} 7000 8000 9000\` from the client:`);
  const knockedAt = performance.now();
  const { stdout } = await knocklogKnock(lab, ['--wait', String(PORT), lab.server.v4, '7000', '8000', '9000']);
  await kl.waitForMessage(/running command: iptables -I/);
  say(indent(stdout));

  heading('Connect again:');
  say(`     from the client ${lab.client.v4}: ${verdict(await connect(lab))}`);
  say(`     from the other address ${other}: ${verdict(await connect(lab, other))}`);

  heading(`Wait: cmd_timeout = ${CMD_TIMEOUT} s after the start command, knocklog runs the stop command.`);
  await waitFor('the door to close', async () => !(await connect(lab)), { timeoutMs: (CMD_TIMEOUT + 10) * 1000 });
  // The probe that found it closed waited CLOSED_MS for an answer that never came.
  const closedAfter = (performance.now() - knockedAt - CLOSED_MS) / 1000;
  say(`     from the client: ${verdict(false)} (closed about ${closedAfter.toFixed(1)} s after the knock)`);
  stopFollowing();
}

async function main(): Promise<number> {
  const available = e2eAvailable();
  if (!available.ok) {
    console.error(`knocklog demo: cannot run here: ${available.reason}.`);
    console.error(
      'It builds network namespaces and firewall rules: run it as root on Linux, e.g. `sudo npm run demo`.');
    return 1;
  }
  say('knocklog demo: a port that opens after a knock sequence, for the knocking address only, and closes by itself.');
  say('(This sets net.netfilter.nf_log_all_netns=1, so that the kernel logs from inside a namespace; it stays set.)');
  heading('A lab: two network namespaces joined by a veth pair.');
  const lab = await createLab();
  try {
    await demo(lab);
  } finally {
    heading('Cleaning up: stopping knocklog and the listener, removing the namespaces and temp files.');
    await lab.destroy();
  }
  say('\nDone.');
  return 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(`\nknocklog demo failed: ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  },
);
