// One iptables or ip6tables command that adds or deletes one rule, read as
// iptables reads it, as near as words allow: which tool, add or delete, which
// chain, and the rule in a canonical form (options with their values in a
// fixed order, short forms for long ones, the defaults dropped), since `-D`
// finds a rule whatever order or form its options were given in. Anything a
// shell would treat as more than words (quotes, `&&`, `;`, `$`) is not read.

import { basename } from 'node:path';

export interface RuleCommand {
  tool: 'iptables' | 'ip6tables';
  op: 'add' | 'delete';
  chain: string;
  /** The table, the match and the target, canonical: equal for two commands that name the same rule. */
  rule: string;
}

const ADD = new Set(['-I', '--insert', '-A', '--append']);
const DELETE = new Set(['-D', '--delete']);
/** Options that change how iptables waits for its lock, not which rule it means (with their value, if any). */
const WAITING = /^(-w|--wait|-W|--wait-interval)(=.*)?$/;
const TOOLS: Readonly<Record<string, RuleCommand['tool']>> = {
  iptables: 'iptables', 'iptables-legacy': 'iptables', 'iptables-nft': 'iptables',
  ip6tables: 'ip6tables', 'ip6tables-legacy': 'ip6tables', 'ip6tables-nft': 'ip6tables',
};
/** Long options and their short forms: iptables reads either. */
const SYNONYMS: Readonly<Record<string, string>> = {
  '--source': '-s', '--src': '-s', '--destination': '-d', '--dst': '-d', '--protocol': '-p', '--jump': '-j',
  '--goto': '-g', '--in-interface': '-i', '--out-interface': '-o', '--match': '-m', '--fragment': '-f',
  '--destination-port': '--dport', '--source-port': '--sport', '--destination-ports': '--dports',
  '--source-ports': '--sports', '--table': '-t',
};
const SHELL = /[;&|<>()$`\\"'*?[\]{}~#\n]/;
const NUMBER = /^\d+$/;

/** The command as a rule command, or null for anything else (another tool, a compound or quoted command). */
export function ruleCommand(cmd: string): RuleCommand | null {
  if (SHELL.test(cmd)) return null;
  const words = cmd.trim().split(/\s+/);
  const tool = TOOLS[basename(words[0] ?? '')];
  if (tool === undefined) return null;
  const at = words.findIndex((w) => ADD.has(w) || DELETE.has(w));
  if (at < 1 || at + 1 >= words.length) return null;
  const op = ADD.has(words[at]!) ? 'add' : 'delete';
  let after = words.slice(at + 2);
  // -I CHAIN N inserts at N; -D CHAIN N deletes rule number N, whatever it is: not a rule by its match.
  if (NUMBER.test(after[0] ?? '')) {
    if (op === 'delete') return null;
    after = after.slice(1);
  }
  return { tool, op, chain: words[at + 1]!, rule: canonical([...words.slice(1, at), ...after]) };
}

/** Options with their values, canonical and sorted; '!' stays with the option it negates. */
function canonical(words: readonly string[]): string {
  const groups: string[][] = [];
  let negate = false;
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    if (WAITING.test(w)) {
      if (!w.includes('=') && NUMBER.test(words[i + 1] ?? '')) i++;
    } else if (w === '!') {
      negate = true;
    } else if (w.startsWith('-') && !/^-\d/.test(w)) {
      groups.push([...(negate ? ['!'] : []), SYNONYMS[w] ?? w]);
      negate = false;
    } else {
      // A single address is a /32 (or /128) network: iptables prints and matches it as such.
      const value = /^(-s|-d)$/.test(groups.at(-1)?.at(-1) ?? '') ? w.replace(/\/(32|128)$/, '') : w;
      (groups.at(-1) ?? (groups[0] = [])).push(value);
    }
  }
  const protocols = new Set(groups.filter((g) => g[0] === '-p').map((g) => g[1]));
  return groups
    .map((g) => g.join(' '))
    // The default table, and the match module -p already loads (iptables-save prints `-p tcp -m tcp --dport`).
    .filter((g) => g !== '-t filter' && !(g.startsWith('-m ') && protocols.has(g.slice(3))))
    .sort()
    .join(' ; ');
}
