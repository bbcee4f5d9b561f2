// src/iptables.ts: when the root executor may take iptables' "no such rule"
// for a stop as "the rule is gone", and how port names are read.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deletesWhatStartAdded, parseServices, ruleCommand } from '../src/iptables.js';

const add = (match: string) => `iptables -I INPUT -s 10.0.0.2 ${match} -j ACCEPT`;
const del = (match: string) => `iptables -D INPUT -s 10.0.0.2 ${match} -j ACCEPT`;

test('the executor trusts a stop to delete what the start added only with ports written as numbers', () => {
  assert.equal(deletesWhatStartAdded(add('-p tcp --dport 22'), del('-p tcp --dport 22')), true);
  assert.equal(deletesWhatStartAdded(add('-p tcp -m multiport --dports 22,80'),
    del('-p tcp -m multiport --destination-ports 22,80')), true);
  // Each run of iptables looks a name up again, in an /etc/services that may have changed since the start.
  for (const [start, stop] of [
    ['-p tcp --dport ssh', '-p tcp --dport ssh'],
    ['-p tcp --dport ssh', '-p tcp --dport 22'],
    ['-p tcp --dport=ssh', '-p tcp --dport 22'],
    ['-p tcp --destination-port ssh', '-p tcp --dport 22'],
    ['-p tcp --sport ssh:1024', '-p tcp --sport 22:1024'],
    ['-p tcp -m multiport --dports 22,http', '-p tcp -m multiport --dports 22,80'],
  ]) {
    assert.equal(deletesWhatStartAdded(add(start!), del(stop!)), false, `${start} / ${stop}`);
    assert.equal(ruleCommand(add(start!))?.numericPorts, false, start);
  }
});

test('a `!` before a value (older iptables\' `--dport ! 22`) is not read: it is not `! --next-option`', () => {
  assert.equal(ruleCommand(add('-p tcp --dport ! 22 --sport 1000')), null);
  assert.equal(deletesWhatStartAdded(add('-p tcp --dport ! 22 --sport 1000'),
    del('-p tcp --dport 22 ! --sport 1000')), false);
  assert.equal(deletesWhatStartAdded(add('-p tcp ! --dport 22'), del('-p tcp ! --dport 22')), true);
  assert.equal(ruleCommand('iptables -D INPUT -s ! 10.0.0.2 -j ACCEPT'), null);
});

test('/etc/services is read as getservbyname reads it: the first entry of a name or alias, ports in decimal', () => {
  const ports = parseServices([
    '# comment',
    'ssh\t\t22/tcp\t\t\t\t# SSH Remote Login Protocol',
    'dicom\t\t104/tcp\t\tacr-nema',
    'dicom\t\t11112/tcp',
    'foo\t\t022/udp\t\tbar baz # leading zero',
    '',
    'broken',
    'nameonly\t\tx/tcp',
  ].join('\n'));
  assert.deepEqual([...ports], [
    ['ssh/tcp', '22'], ['dicom/tcp', '104'], ['acr-nema/tcp', '104'],
    ['foo/udp', '22'], ['bar/udp', '22'], ['baz/udp', '22'],
  ]);
});
