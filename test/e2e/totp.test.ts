// Time-based doors end to end: `knocklog knock --secret-file` opens the port
// in the real lab, and the same knocks sent again (a captured sequence
// replayed) open nothing.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chmodSync } from 'node:fs';
import {
  createLab, knocklogKnock, loadKnocklogRules, requireLabOrSkip, startKnocklog, waitFor, writeKnocklogConf,
} from '../../lab/lab.js';

const CLOSED_MS = 500;
const rule = 'INPUT -s %IP% -p tcp --dport 2222 -j ACCEPT';

test('time-based door: knock --secret-file opens the port; a replay of the captured knocks opens nothing',
  async (t) => {
  if (!requireLabOrSkip(t)) return;
  const lab = await createLab();
  t.after(() => lab.destroy());
  const secret = lab.writeFile('ssh.secret', 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP\n');
  chmodSync(secret, 0o600);
  const conf = writeKnocklogConf(lab, 'knockd.conf', `[ssh]
  Sequence_Secret_File = ${secret}
  Sequence_Ports = 20000-20999
  Sequence_Length = 3
  Sequence_Step = 30
  Seq_Timeout = 5
  Start_Command = iptables -I ${rule}
  Cmd_Timeout = 2
  Stop_Command = iptables -D ${rule}

[marker]
  Sequence = 7000,8000
`);
  await lab.installStandardFirewall({ knock: ['7000:tcp', '8000:tcp'] });
  const rules = await loadKnocklogRules(lab, conf);
  assert.match(rules, /--dports? [^\n]*20000:20999/, 'one rule for the whole range');
  await lab.listen(2222);
  const kl = await startKnocklog(lab, { conf, sources: ['kmsg'] });
  const client = lab.client.v4;
  assert.equal(await lab.canConnect(2222, 4, CLOSED_MS), false, 'closed before any knock');

  const { stdout } = await knocklogKnock(lab,
    ['-v', '--secret-file', secret, '--ports', '20000-20999', '--wait', '2222', lab.server.v4]);
  assert.match(stdout, /^port 2222 open after \d+ ms$/m, stdout);
  const ports = [...stdout.matchAll(/^hitting tcp [^ ]+:(\d+)$/gm)].map((m) => m[1]!);
  assert.equal(ports.length, 3, stdout);
  assert.equal(kl.count(new RegExp(`^${client.replaceAll('.', '\\.')}: ssh: OPEN SESAME$`)), 1);
  await waitFor('the close', async () => !(await lab.canConnect(2222, 4, CLOSED_MS)), { timeoutMs: 10_000 });

  // The captured sequence, sent again within its window, then a marker knock: once the
  // marker is seen, so were the replayed knocks before it.
  await knocklogKnock(lab, [lab.server.v4, ...ports]);
  await knocklogKnock(lab, [lab.server.v4, '7000']);
  await kl.waitForMessage(new RegExp(`^${client.replaceAll('.', '\\.')}: marker: Stage 1$`));
  assert.equal(kl.count(/OPEN SESAME/), 1, kl.messages().join('\n'));
  assert.equal(await lab.canConnect(2222, 4, CLOSED_MS), false, 'the replay opened nothing');
  t.diagnostic(`sequence ${ports.join(',')}: opened once, replay refused`);
});
