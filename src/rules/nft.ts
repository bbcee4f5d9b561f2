// The logging rules as an `nft -f` ruleset: one table of knocklog's own for
// IPv4 and IPv6.

import { isIPv6 } from '../net.js';
import { IPV6_SOURCE_BITS, NFLOG_SNAPLEN, PER_PORT, PER_SOURCE, PORT_TABLE, SOURCE_TABLE, type Via } from './limits.js';
import type { PortGroup } from './ports.js';

export const TABLE = 'knocklog';

export interface NftOptions {
  via: Via;
  /** The prefix as the statement writes it (see rulePrefix). */
  prefix: string;
  group: number;
}

const DESIGN = `# Design:
# - A table of knocklog's own, "inet ${TABLE}" (IPv4 and IPv6). The first two lines
#   create it if missing and delete it, so loading the file again replaces it
#   atomically, in one transaction, and touches no other table.
# - Its input chain hooks in before the filter tables (priority filter - 10), so
#   the knocks are logged whatever DROP rules or policies come later; it only
#   logs, and accepting here does not stop later chains from dropping.`;

const LOG_BUDGETS = `# - Matching packets go (goto) to "knock", then "emit": logged at most once.
# - Two limits, both must allow a line. First per source ("knock": a dynamic set
#   with a ${PER_SOURCE.rate}/s, burst ${PER_SOURCE.burst} limit per address, IPv6 per /${IPV6_SOURCE_BITS}):
#   one flooding address cannot starve other knocks out of the log. Then per knock port
#   ("emit": a dynamic set with a ${PER_PORT.rate}/s, burst ${PER_PORT.burst} limit per destination port; a
#   time-based door's range is one limit): a flood from many addresses at one port
#   spends only that port's budget, and the disk takes at most ${PER_PORT.rate} lines a
#   second per port. Only logging is limited; no packet is dropped here.`;

const NFLOG_BUDGET = `# - Matching packets go (goto) to "emit": logged at most once.
# - No rate limit: NFLOG copies only the headers (snaplen ${NFLOG_SNAPLEN}) to ulogd2, which
#   hands them to knocklog over a Unix socket (ulogd-socket:PATH); nothing reaches
#   the disk. When ulogd2 and knocklog cannot keep up, the kernel drops what
#   they cannot take, at random: no flood can reserve a budget for itself.`;

// `--syn` in nft words: SYN set, ACK, RST and FIN clear.
const SYN_ONLY = 'tcp flags & (fin | syn | rst | ack) == syn';

function portSet(g: PortGroup): string {
  const items = [...g.ports.map(String), ...(g.ranges ?? []).map(([low, high]) => `${low}-${high}`)];
  return items.length === 1 ? String(items[0]) : `{ ${items.join(', ')} }`;
}

/** What a group's packets look like: destination, ports, TCP flags. */
function match(g: PortGroup, ports: string): string {
  const parts: string[] = [];
  if (g.dst !== null) parts.push(`${isIPv6(g.dst) ? 'ip6' : 'ip'} daddr ${g.dst}`);
  parts.push(`${g.proto} dport ${ports}`);
  if (g.synOnly) parts.push(SYN_ONLY);
  return parts.join(' ');
}

function dynamicSet(name: string, type: string, table: { size: number; expireMs: number }): string[] {
  return [
    `\tset ${name} {`,
    `\t\ttype ${type}`,
    `\t\tsize ${table.size}`,
    '\t\tflags dynamic,timeout',
    `\t\ttimeout ${table.expireMs / 1000}s`,
    '\t}',
  ];
}

const limit = (r: { rate: number; burst: number }) => `limit rate ${r.rate}/second burst ${r.burst} packets`;

/** The sets and the chains after "input" for --via log: per source, then per port (a range: one limit of its own). */
function logChains(groups: readonly PortGroup[], log: string): { sets: string[]; chains: string[] } {
  const mask6 = `${'ffff:'.repeat(IPV6_SOURCE_BITS / 16)}:`;
  const ranges = groups.flatMap((g) => (g.ranges ?? []).map(([low, high]) => match(g, `${low}-${high}`)));
  return {
    sets: [
      ...dynamicSet('sources4', 'ipv4_addr', SOURCE_TABLE),
      ...dynamicSet('sources6', 'ipv6_addr', SOURCE_TABLE),
      ...dynamicSet('ports', 'inet_service', PORT_TABLE),
    ],
    chains: [
      '\tchain knock {',
      `\t\tupdate @sources4 { ip saddr ${limit(PER_SOURCE)} } goto emit`,
      `\t\tupdate @sources6 { ip6 saddr & ${mask6} ${limit(PER_SOURCE)} } goto emit`,
      '\t}',
      '\tchain emit {',
      ...ranges.flatMap((m) => [`\t\t${m} ${limit(PER_PORT)} counter ${log}`, `\t\t${m} return`]),
      `\t\tupdate @ports { th dport ${limit(PER_PORT)} } counter ${log}`,
      '\t}',
    ],
  };
}

/** The ruleset after the caller's header comment. */
export function nftRules(groups: readonly PortGroup[], o: NftOptions): string {
  // queue-threshold 1: see iptables.ts (the kernel would batch NFLOG packets for up to 1 s).
  const log = o.via === 'log'
    ? `log prefix "${o.prefix}" level warn`
    : `log group ${o.group} snaplen ${NFLOG_SNAPLEN} queue-threshold 1 prefix "${o.prefix}"`;
  const { sets, chains } = o.via === 'log'
    ? logChains(groups, log)
    : { sets: [], chains: ['\tchain emit {', `\t\tcounter ${log}`, '\t}'] };
  const first = o.via === 'log' ? 'knock' : 'emit';
  const lines = [
    '# Load with: nft -f FILE',
    DESIGN,
    o.via === 'log' ? LOG_BUDGETS : NFLOG_BUDGET,
    `table inet ${TABLE}`,
    `delete table inet ${TABLE}`,
    `table inet ${TABLE} {`,
    ...sets,
    '\tchain input {',
    '\t\ttype filter hook input priority filter - 10; policy accept;',
    ...groups.map((g) => `\t\t${match(g, portSet(g))} goto ${first}`),
    '\t}',
    ...chains,
    '}',
  ];
  return `${lines.join('\n')}\n`;
}
