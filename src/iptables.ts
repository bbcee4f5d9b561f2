// One iptables or ip6tables command that adds or deletes one rule, read as
// iptables reads it, as near as words allow: which tool, add or delete, which
// chain, and the rule in a canonical form (options with their values in a
// fixed order, short forms for long ones, port names as numbers, the defaults
// dropped), since `-D` finds a rule whatever order or form its options were
// given in. Anything a shell would treat as more than words (quotes, `&&`,
// `;`, `$`) is not read.

import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { basename } from 'node:path';

export interface RuleCommand {
  /** The program's name: iptables-legacy and iptables-nft keep rules apart. */
  tool: string;
  /** iptables or ip6tables, whichever backend (`iptables` is one of the two, by the system's choice). */
  family: 'iptables' | 'ip6tables';
  op: 'add' | 'delete';
  chain: string;
  /** The table, the match and the target, canonical: equal for two commands that name the same rule. */
  rule: string;
  /** Each source and destination is one address (or network) written out: the command means one rule. */
  single: boolean;
  /**
   * Every port is written as a number. A port name is looked up again by each
   * run of iptables, and /etc/services may have changed between a start and its
   * stop: the same words need not mean the same rule then.
   */
  numericPorts: boolean;
}

const ADD = new Set(['-I', '--insert', '-A', '--append']);
const DELETE = new Set(['-D', '--delete']);
/** Options that change how iptables waits for its lock, not which rule it means (with their value, if any). */
const WAITING = /^(-w|--wait|-W|--wait-interval)(\d+)?$/;
const TOOLS = /^(ip6?tables)(-legacy|-nft)?$/;
/** Options of the tcp and udp matches: with one of them, `-m tcp` after `-p tcp` adds nothing. */
const PORT_OPTIONS = new Set(['--dport', '--sport', '--syn', '--tcp-flags', '--tcp-option']);
/** Long options and their short forms: iptables reads either. */
const SYNONYMS: Readonly<Record<string, string>> = {
  '--source': '-s', '--src': '-s', '--destination': '-d', '--dst': '-d', '--protocol': '-p', '--jump': '-j',
  '--goto': '-g', '--in-interface': '-i', '--out-interface': '-o', '--match': '-m', '--fragment': '-f',
  '--destination-port': '--dport', '--source-port': '--sport', '--destination-ports': '--dports',
  '--source-ports': '--sports', '--table': '-t',
};
const SHELL = /[;&|<>()$`\\"'*?[\]{}~#\n]/;
const NUMBER = /^\d+$/;
/** Options whose values are ports, each a number or a service name (lists with `,`, ranges with `:`). */
const PORT_VALUES = new Set(['--dport', '--sport', '--dports', '--sports']);

/**
 * `NAME/PROTOCOL` -> port number, as getservbyname reads /etc/services: the
 * first entry of a name (or alias) wins, and the port is decimal.
 */
export function parseServices(text: string): Map<string, string> {
  const ports = new Map<string, string>();
  for (const line of text.split('\n')) {
    const [name, at, ...aliases] = line.replace(/#.*/, '').trim().split(/\s+/);
    const m = /^(\d+)\/(\w+)$/.exec(at ?? '');
    if (name === undefined || name === '' || m === null) continue;
    const port = String(Number.parseInt(m[1]!, 10));
    for (const n of [name, ...aliases]) if (!ports.has(`${n}/${m[2]}`)) ports.set(`${n}/${m[2]}`, port);
  }
  return ports;
}

let services: Map<string, string> | null = null;
/**
 * /etc/services, read once: only for the warning of `check` and `run` about a
 * stop that deletes another rule than its start adds (the executor's closes
 * trust numbers only, see numericPorts). Unreadable, no name resolves, and a
 * name stays unequal to its number.
 */
function servicePorts(): Map<string, string> {
  if (services !== null) return services;
  let text = '';
  try {
    text = readFileSync('/etc/services', 'utf8');
  } catch {
    // no names then
  }
  services = parseServices(text);
  return services;
}

/** Port values with service names written as numbers, for `protocol`'s names. */
function portNumbers(value: string, protocol: string): string {
  return value.replace(/[^,:]+/g, (p) => (NUMBER.test(p) ? p : servicePorts().get(`${p}/${protocol}`) ?? p));
}

/** The command as a rule command, or null for anything else (another tool, a compound or quoted command). */
export function ruleCommand(cmd: string): RuleCommand | null {
  if (SHELL.test(cmd)) return null;
  // `--dport=22` is `--dport 22` to iptables.
  const words = cmd.trim().split(/\s+/).flatMap((w) => {
    const eq = w.indexOf('=');
    return w.startsWith('--') && eq > 2 ? [w.slice(0, eq), w.slice(eq + 1)] : [w];
  });
  const tool = basename(words[0] ?? '');
  const family = TOOLS.exec(tool)?.[1] as RuleCommand['family'] | undefined;
  if (family === undefined) return null;
  const at = words.findIndex((w) => ADD.has(w) || DELETE.has(w));
  if (at < 1 || at + 1 >= words.length) return null;
  const op = ADD.has(words[at]!) ? 'add' : 'delete';
  let after = words.slice(at + 2);
  // -I CHAIN N inserts at N; -D CHAIN N deletes rule number N, whatever it is: not a rule by its match.
  if (NUMBER.test(after[0] ?? '')) {
    if (op === 'delete') return null;
    after = after.slice(1);
  }
  const rest = [...words.slice(1, at), ...after];
  // `! --dport 22` negates the option; an older iptables also took `--dport ! 22`: not read.
  if (rest.some((w, i) => w === '!' && !(rest[i + 1] ?? '').startsWith('-'))) return null;
  // `-s a,b` or a host name is a rule per address, and iptables stops at the first it cannot delete.
  const single = rest.every((w, i) => !/^(-s|-d|--source|--destination|--src|--dst)$/.test(rest[i - 1] ?? '') ||
    isIP(w.replace(/\/\d+$/, '')) !== 0);
  const option = (i: number) => SYNONYMS[rest[i - 1] ?? ''] ?? rest[i - 1] ?? '';
  const numericPorts = rest.every((w, i) => !PORT_VALUES.has(option(i)) || /^[\d,:]+$/.test(w));
  return { tool, family, op, chain: words[at + 1]!, rule: canonical(rest), single, numericPorts };
}

/**
 * Whether `stop` deletes exactly the one rule `start` added: both read as
 * rule commands of the same program, chain and rule, one address each, ports
 * as numbers. Only then does iptables' "no such rule" for the stop mean the
 * rule is gone.
 */
export function deletesWhatStartAdded(start: string, stop: string): boolean {
  const a = ruleCommand(start);
  const b = ruleCommand(stop);
  return a !== null && b !== null && a.op === 'add' && b.op === 'delete' && a.single && b.single &&
    a.numericPorts && b.numericPorts && a.tool === b.tool && a.chain === b.chain && a.rule === b.rule;
}

/** Options with their values, canonical and sorted; '!' stays with the option it negates. */
function canonical(words: readonly string[]): string {
  const groups: string[][] = [];
  let negate = false;
  for (let i = 0; i < words.length; i++) {
    const w = words[i]!;
    if (WAITING.test(w)) {
      if (!/\d$/.test(w) && NUMBER.test(words[i + 1] ?? '')) i++;
    } else if (w === '!') {
      negate = true;
    } else if (w.startsWith('-') && !/^-\d/.test(w)) {
      groups.push([...(negate ? ['!'] : []), SYNONYMS[w] ?? w]);
      negate = false;
    } else {
      // A single address is a /32 (or /128) network: iptables prints and matches it as such; protocols are
      // named in any case.
      const option = groups.at(-1)?.at(-1) ?? '';
      const value = /^(-s|-d)$/.test(option) ? w.replace(/\/(32|128)$/, '') : option === '-p' ? w.toLowerCase() : w;
      (groups.at(-1) ?? (groups[0] = [])).push(value);
    }
  }
  // The match module -p loads when one of its options follows (iptables-save prints `-p tcp -m tcp --dport`).
  const ports = groups.some((g) => PORT_OPTIONS.has(g[0]!));
  const protocols = new Set(groups.filter((g) => g[0] === '-p').map((g) => g[1]));
  const protocol = groups.find((g) => g[0] === '-p')?.[1];
  if (protocol !== undefined) {
    for (const g of groups) {
      const at = g[0] === '!' ? 1 : 0;
      if (PORT_VALUES.has(g[at]!) && g[at + 1] !== undefined) g[at + 1] = portNumbers(g[at + 1]!, protocol);
    }
  }
  return groups
    .map((g) => g.join(' '))
    // The default table, and that module.
    .filter((g) => g !== '-t filter' && !(ports && g.startsWith('-m ') && protocols.has(g.slice(3))))
    .sort()
    .join(' ; ');
}
