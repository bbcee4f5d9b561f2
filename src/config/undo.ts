// Whether a door's stop_command deletes the rule its start_command adds, for
// the common shape of both: one iptables/ip6tables command, -I or -A, then -D.
// The executor takes iptables' "does a matching rule exist" from a stop as
// "the rule is gone already" and stops retrying: with a stop that does not
// match its start that would leave the start's rule in place, so `check` and
// `run` say so at once.

import { basename } from 'node:path';
import type { DoorBase } from '../types.js';

const ADD = new Set(['-I', '--insert', '-A', '--append']);
const DELETE = new Set(['-D', '--delete']);
/** Options that change how iptables waits for its lock, not which rule it means. */
const WAITING = new Set(['-w', '--wait', '-W', '--wait-interval']);
/** Text a shell would treat as more than words separated by spaces: such commands are not compared. */
const SHELL = /[;&|<>()$`\\"'*?[\]{}~#!\n]/;

interface Rule {
  tool: string;
  /** The options before the operation (the table, say), without the waiting ones. */
  before: string[];
  op: 'add' | 'delete';
  chain: string;
  spec: string[];
}

/** An iptables or ip6tables command that adds or deletes one rule, as words; null for anything else. */
function ruleOf(cmd: string): Rule | null {
  if (SHELL.test(cmd)) return null;
  const words = cmd.trim().split(/\s+/);
  const tool = basename(words[0] ?? '');
  if (tool !== 'iptables' && tool !== 'ip6tables') return null;
  const at = words.findIndex((w) => ADD.has(w) || DELETE.has(w));
  if (at < 1 || at + 1 >= words.length) return null;
  const before: string[] = [];
  for (let i = 1; i < at; i++) {
    const w = words[i]!;
    if (!WAITING.has(w)) before.push(w);
    // A wait time or interval follows its option.
    else if (/^\d+$/.test(words[i + 1] ?? '')) i++;
  }
  const op = ADD.has(words[at]!) ? 'add' : 'delete';
  let spec = words.slice(at + 2);
  // -I CHAIN N inserts at N; -D CHAIN N would delete rule N, not a rule by its match: not compared.
  if (/^\d+$/.test(spec[0] ?? '')) {
    if (op === 'delete') return null;
    spec = spec.slice(1);
  }
  return { tool, before, op, chain: words[at + 1]!, spec };
}

/** What is wrong, if the door's stop commands visibly do not delete what its start commands add. */
export function undoProblems(d: DoorBase): string[] {
  const out: string[] = [];
  const pairs = [[d.startCommand, d.stopCommand, ''], [d.startCommand6, d.stopCommand6, '_6']] as const;
  for (const [start, stop, v6] of pairs) {
    if (start === null || stop === null || start === '' || stop === '') continue;
    // Without commands of its own, IPv6 uses the IPv4 ones: said once.
    if (v6 !== '' && start === d.startCommand && stop === d.stopCommand) continue;
    const a = ruleOf(start);
    const b = ruleOf(stop);
    if (a === null || b === null || a.op !== 'add' || b.op !== 'delete') continue;
    const same = a.tool === b.tool && a.chain === b.chain &&
      a.before.join(' ') === b.before.join(' ') && a.spec.join(' ') === b.spec.join(' ');
    if (same) continue;
    out.push(
      `${d.where}: door ${d.name}: stop_command${v6} does not delete the rule start_command${v6} adds ` +
        `(${start} / ${stop}): when a stop finds no such rule, knocklog counts the door as closed, ` +
        'and the rule the start added would stay. Fix: give the stop the same table, chain and match as the start',
    );
  }
  return out;
}
