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
/** Long options and their short forms: iptables reads either. */
const SYNONYMS: Readonly<Record<string, string>> = {
  '--source': '-s', '--src': '-s', '--destination': '-d', '--dst': '-d', '--protocol': '-p', '--jump': '-j',
  '--goto': '-g', '--in-interface': '-i', '--out-interface': '-o', '--match': '-m', '--fragment': '-f',
  '--destination-port': '--dport', '--source-port': '--sport', '--destination-ports': '--dports',
  '--source-ports': '--sports', '--table': '-t',
};

/**
 * A rule's match as iptables sees it, as near as words allow: each option with
 * its values (and a `!` before it), short forms for long ones, in a fixed
 * order, since `-D` finds a rule whatever order its options were given in.
 */
function normalized(spec: readonly string[]): string {
  const groups: string[][] = [];
  let negate = false;
  for (const w of spec) {
    if (w === '!') negate = true;
    else if (w.startsWith('-') && !/^-\d/.test(w)) {
      groups.push([...(negate ? ['!'] : []), SYNONYMS[w] ?? w]);
      negate = false;
    } else (groups.at(-1) ?? (groups[0] = [])).push(w);
  }
  return groups.map((g) => g.join(' ')).sort().join(' ; ');
}

/** Text a shell would treat as more than words separated by spaces: such commands are not compared. */
const SHELL = /[;&|<>()$`\\"'*?[\]{}~#\n]/;

interface Rule {
  tool: string;
  op: 'add' | 'delete';
  chain: string;
  /** The other words (the table, the match, the target), without the options that only say how to wait. */
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
  const op = ADD.has(words[at]!) ? 'add' : 'delete';
  let after = words.slice(at + 2);
  // -I CHAIN N inserts at N; -D CHAIN N would delete rule N, not a rule by its match: not compared.
  if (/^\d+$/.test(after[0] ?? '')) {
    if (op === 'delete') return null;
    after = after.slice(1);
  }
  const spec: string[] = [];
  const rest = [...words.slice(1, at), ...after];
  for (let i = 0; i < rest.length; i++) {
    const w = rest[i]!;
    if (!WAITING.has(w)) spec.push(w);
    // A wait time or interval follows its option.
    else if (/^\d+$/.test(rest[i + 1] ?? '')) i++;
  }
  return { tool, op, chain: words[at + 1]!, spec };
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
    const same = a.tool === b.tool && a.chain === b.chain && normalized(a.spec) === normalized(b.spec);
    if (same) continue;
    out.push(
      `${d.where}: door ${d.name}: stop_command${v6} does not delete the rule start_command${v6} adds ` +
        `(${start} / ${stop}): when a stop finds no such rule, knocklog counts the door as closed, ` +
        'and the rule the start added would stay. Fix: give the stop the same table, chain and match as the start',
    );
  }
  return out;
}
