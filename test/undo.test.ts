// check's warning for a stop_command that does not delete the rule its
// start_command adds (the executor counts a door whose rule iptables cannot
// find as closed, so such a pair would leave the start's rule in place).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { undoProblems } from '../src/config/undo.js';
import type { DoorBase } from '../src/types.js';

const door = (start: string | null, stop: string | null, start6 = start, stop6 = stop): DoorBase => ({
  name: 'ssh', where: '/etc/knockd.conf:3', seqTimeoutMs: 5000, tcpFlags: [], startCommand: start,
  startCommand6: start6, stopCommand: stop, stopCommand6: stop6, cmdTimeoutMs: 10_000, target: null,
});

test('a stop that deletes what the start adds is fine, whatever the wait options and the insert position', () => {
  for (const [start, stop] of [
    ['iptables -I INPUT -s %IP% -p tcp --dport 22 -j ACCEPT', 'iptables -D INPUT -s %IP% -p tcp --dport 22 -j ACCEPT'],
    ['/sbin/iptables -A INPUT -s %IP% -p tcp --dport 22 -j ACCEPT',
      'iptables -D INPUT -s %IP% -p tcp --dport 22 -j ACCEPT'],
    ['iptables -w -I INPUT 1 -s %IP% -j ACCEPT', 'iptables -w 5 -D INPUT -s %IP% -j ACCEPT'],
    ['iptables -t nat -I PREROUTING -s %IP% -j ACCEPT', 'iptables -t nat -D PREROUTING -s %IP% -j ACCEPT'],
    // iptables -D finds the rule whatever the order of its options, and long options are the short ones.
    ['iptables -A INPUT -s %IP% -p tcp --dport 22 -j ACCEPT', 'iptables -D INPUT -p tcp -s %IP% --dport 22 -j ACCEPT'],
    ['iptables -I INPUT -s %IP% -p tcp --dport 22 -j ACCEPT',
      'iptables -D INPUT --source %IP% --protocol tcp --destination-port 22 --jump ACCEPT'],
    ['iptables --table nat -I PREROUTING -s %IP% -j ACCEPT', 'iptables -D PREROUTING -t nat -s %IP% -j ACCEPT'],
    // What else iptables reads as the same rule: the default table, the wait options anywhere, a /32, the match
    // module that -p loads (iptables-save prints `-p tcp -m tcp --dport 22`), the target first.
    ['iptables -I INPUT -s %IP% -p tcp --dport 22 -j ACCEPT',
      'iptables -t filter -D INPUT -j ACCEPT -s %IP%/32 -p tcp -m tcp --dport 22 --wait=5'],
    ['iptables-nft -I INPUT -w -s %IP% -j ACCEPT', 'iptables -D INPUT -s %IP% -w 3 -j ACCEPT'],
    ['iptables -I INPUT -w5 -s %IP% -p TCP --dport=22 -j ACCEPT',
      'iptables -D INPUT -s %IP% -p tcp --dport 22 -j ACCEPT'],
    // Not one iptables rule each: not compared.
    ['iptables -I INPUT -s %IP% -j ACCEPT && logger opened', 'iptables -D INPUT -s %IP% -j REJECT'],
    ['nft add element inet filter knocked { %IP% }', 'nft delete element inet filter knocked { %IP% }'],
    ['iptables -I INPUT -s %IP% -j ACCEPT', 'iptables -D INPUT 1'],
  ]) {
    assert.deepEqual(undoProblems(door(start!, stop!)), [], `${start} / ${stop}`);
  }
  assert.deepEqual(undoProblems(door('iptables -I INPUT -s %IP% -j ACCEPT', null)), [], 'no stop: nothing to compare');
});

test('port names are read as iptables reads them, from /etc/services for the rule\'s protocol',
  { skip: existsSync('/etc/services') ? false : 'no /etc/services here (Debian: the netbase package)' }, () => {
    const rule = (op: string, match: string) => `iptables ${op} INPUT -s %IP% ${match} -j ACCEPT`;
    for (const [start, stop] of [
      ['-p tcp --dport ssh', '-p tcp --dport 22'],
      ['-p udp --dport domain', '-p udp --dport 53'],
      ['-p tcp --sport ssh:telnet', '-p tcp --sport 22:23'],
      ['-p tcp -m multiport --dports ssh,http', '-p tcp -m multiport --dports 22,80'],
      ['-p tcp ! --dport ssh', '-p tcp ! --dport 22'],
    ]) assert.deepEqual(undoProblems(door(rule('-I', start!), rule('-D', stop!))), [], `${start} / ${stop}`);
    for (const [start, stop] of [
      ['-p tcp --dport ssh', '-p tcp --dport 23'],
      ['-p tcp --dport ssh', '-p tcp --dport 2222'],
    ]) assert.equal(undoProblems(door(rule('-I', start!), rule('-D', stop!))).length, 1, `${start} / ${stop}`);
  });

test('a stop that deletes another rule than the start adds is reported with FILE:LINE, once for both families', () => {
  const start = 'iptables -I INPUT -s %IP% -p tcp --dport 22 -j ACCEPT';
  for (const stop of [
    'iptables -D INPUT -s %IP% -p tcp --dport 2222 -j ACCEPT',
    'iptables -D FORWARD -s %IP% -p tcp --dport 22 -j ACCEPT',
    'iptables -t nat -D INPUT -s %IP% -p tcp --dport 22 -j ACCEPT',
    'ip6tables -D INPUT -s %IP% -p tcp --dport 22 -j ACCEPT',
    'iptables -D INPUT ! -s %IP% -p tcp --dport 22 -j ACCEPT',
    'iptables -D INPUT -s %IP% -p udp --dport 22 -j ACCEPT',
    'iptables -D INPUT -s %IP% -p tcp -m udp --dport 22 -j ACCEPT',
  ]) {
    const problems = undoProblems(door(start, stop));
    assert.equal(problems.length, 1, stop);
    assert.match(problems[0]!, /^\/etc\/knockd\.conf:3: door ssh: stop_command does not delete the rule start_command/);
  }
  const v6 = undoProblems(door(start, start.replace('-I', '-D'), 'ip6tables -I INPUT -s %IP% -j ACCEPT',
    'ip6tables -D INPUT -s %IP% -j DROP'));
  assert.equal(v6.length, 1);
  assert.match(v6[0]!, /stop_command_6 does not delete the rule start_command_6 adds/);
});
