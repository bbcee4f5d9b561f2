// Per-user secrets and address-bound sequences end to end, in the real lab:
// alice's knock (`knocklog knock --bind` with her address given) opens and the
// log and `status` name her; her sequence knocked from a second client address
// (before her, as a racer would, and right after her) opens nothing; after her
// secret file is removed and SIGHUP, her next sequence opens nothing while
// bob's (`--bind auto`) still does.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { loadConfig } from '../../src/config/index.js';
import { deriveBoundSequence, timeStep } from '../../src/totp/index.js';
import { timedOf } from '../helpers/doors.js';
import {
  createLab, knocklogKnock, loadKnocklogRules, requireLabOrSkip, runKnocklog, startKnocklog, waitFor, writeKnocklogConf,
} from '../../lab/lab.js';

const CLOSED_MS = 500;
const rule = 'INPUT -s %IP% -p tcp --dport 2222 -j ACCEPT';
const re = (s: string) => new RegExp(`^${s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`);

test('per-user, bound door: alice opens, named; her ports from another address open nothing; rm + SIGHUP revokes her',
  async (t) => {
  if (!requireLabOrSkip(t)) return;
  const lab = await createLab();
  t.after(() => lab.destroy());
  const dir = lab.path('ssh.d');
  mkdirSync(dir, { mode: 0o700 });
  const secrets = { alice: 'JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP', bob: 'MFRGGZDFMZTWQ2LKNNWG23TPOBYXE43U' };
  for (const [user, secret] of Object.entries(secrets)) writeFileSync(`${dir}/${user}`, `${secret}\n`, { mode: 0o600 });
  const aliceFile = lab.writeFile('alice.secret', `${secrets.alice}\n`);
  const conf = writeKnocklogConf(lab, 'knockd.conf', `[ssh]
  Sequence_Secret_Dir = ${dir}
  Sequence_Bind = address
  Sequence_Ports = 20000-29999
  Sequence_Length = 3
  Sequence_Step = 30
  Seq_Timeout = 5
  Start_Command = iptables -I ${rule}
  Cmd_Timeout = 4
  Stop_Command = iptables -D ${rule}

[marker]
  Sequence = 7000,8000
`);
  await lab.installStandardFirewall({ knock: ['7000:tcp', '8000:tcp'] });
  await loadKnocklogRules(lab, conf);
  await lab.listen(2222);
  const second = await lab.addClientAddress(3);
  const client = lab.client.v4;
  const kl = await startKnocklog(lab, { conf, sources: ['kmsg'] });
  const timed = timedOf(loadConfig(conf).doors.find((d) => d.name === 'ssh'));
  assert.ok(timed.users !== undefined);
  const portsOf = (user: string, src: string, step: number) =>
    deriveBoundSequence(timed, step, timed.users!.find((u) => u.name === user)!.secretHex, src).map((s) => s.port);
  /** SYNs from the second address, one per port, in order (a connect attempt cut short). */
  const fromSecond = async (ports: number[]) => {
    for (const p of ports) await lab.canConnect(p, 4, 100, second.v4);
  };
  const marker = async (n: number) => {
    await knocklogKnock(lab, [lab.server.v4, '7000']);
    await waitFor(`marker ${n}`, () => kl.count(re(`${client}: marker: Stage 1`)) >= n, { timeoutMs: 10_000 });
  };
  assert.equal(await lab.canConnect(2222, 4, CLOSED_MS), false, 'closed before any knock');

  // A racer with alice's sequence of this step, from the second address, before alice herself: nothing.
  const step = timeStep(Date.now(), timed.stepMs);
  await fromSecond(portsOf('alice', client, step));
  await marker(1);
  // Its first port is alice's (it does not depend on the address): seen, and no further. (Its later ports may
  // happen to be some user's first port of a nearby step, about one run in a thousand here: a Stage 1 again.)
  assert.ok(kl.count(re(`${second.v4}: ssh: Stage 1`)) >= 1, kl.messages().join('\n'));
  assert.ok(!kl.messages().some((m) => m.startsWith(`${second.v4}: ssh: Stage 2`)), kl.messages().join('\n'));
  assert.equal(kl.count(/OPEN SESAME/), 0, kl.messages().join('\n'));

  // alice, with her address given explicitly: opens, and the log and status name her.
  const knocked = await knocklogKnock(lab, [
    '-v', '--secret-file', aliceFile, '--ports', '20000-29999', '--bind', client, '--wait', '2222', lab.server.v4,
  ]);
  assert.match(knocked.stdout, /^port 2222 open after \d+ ms$/m, knocked.stdout + knocked.stderr);
  assert.equal(knocked.stderr, '', 'no NAT warning for an explicit address');
  const ports = [...knocked.stdout.matchAll(/^hitting tcp [^ ]+:(\d+)$/gm)].map((m) => Number(m[1]));
  await kl.waitForMessage(re(`alice: ${client}: ssh: OPEN SESAME`));
  const status = await runKnocklog(['status', '--state-dir', lab.path('knocklog-state')]);
  assert.match(status.stdout, new RegExp(`^ssh +${client.replaceAll('.', '\\.')} +alice +`, 'm'), status.stdout);

  // The same ports from the second address right after: nothing opens for it.
  await fromSecond(ports);
  await marker(2);
  assert.equal(kl.count(/OPEN SESAME/), 1, kl.messages().join('\n'));
  assert.ok(!kl.messages().some((m) => m.startsWith(`${second.v4}: ssh: Stage 2`)), kl.messages().join('\n'));
  assert.equal(await lab.canConnect(2222, 4, CLOSED_MS, second.v4), false, 'the second address got in');
  await waitFor('the close', async () => !(await lab.canConnect(2222, 4, CLOSED_MS)), { timeoutMs: 15_000 });

  // Revoke alice; her sequence of a step she has not used opens nothing, bob's (--bind auto) opens.
  rmSync(`${dir}/alice`);
  process.kill(kl.daemon.child.pid!, 'SIGHUP');
  await kl.waitForMessage(/^the log reader uses the new config, with 2 doors$/);
  const next = timeStep(Date.now(), timed.stepMs) + 1;
  await knocklogKnock(lab, [lab.server.v4, ...portsOf('alice', client, next).map(String)]);
  await marker(3);
  const bob = lab.writeFile('bob.secret', `${secrets.bob}\n`);
  const byBob = await knocklogKnock(lab, [
    '--secret-file', bob, '--ports', '20000-29999', '--bind', 'auto', '--wait', '2222', lab.server.v4,
  ]);
  assert.match(byBob.stdout, /^port 2222 open after \d+ ms$/m, byBob.stdout + byBob.stderr);
  await kl.waitForMessage(re(`bob: ${client}: ssh: OPEN SESAME`));
  assert.equal(kl.count(/^alice: .*OPEN SESAME/), 1, kl.messages().join('\n'));
  t.diagnostic(`alice ${ports.join(',')} from ${client}: opened; from ${second.v4}: nothing; revoked: nothing; ` +
    'bob: opened');
});
