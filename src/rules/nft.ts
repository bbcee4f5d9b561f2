// The logging rules as an `nft -f` ruleset: one table of knocklog's own for
// IPv4 and IPv6.

import { isIPv6 } from '../net.js';
import { IPV6_SOURCE_BITS, PER_SOURCE, SOURCE_TABLE, TOTAL, type Via } from './limits.js';
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
#   logs, and accepting here does not stop later chains from dropping.
# - Matching packets go (goto) to "knock", then "emit": logged at most once.
# - Two limits, both must allow a line: per source (a dynamic set with a
#   ${PER_SOURCE.rate}/s, burst ${PER_SOURCE.burst} limit per address, IPv6 per /${IPV6_SOURCE_BITS}), so one flooding address
#   cannot starve other knocks out of the log, and one over all sources
#   (${TOTAL.rate}/s, burst ${TOTAL.burst}), so a flood from many addresses cannot fill the disk.
#   Only logging is limited; no packet is dropped here.`;

// `--syn` in nft words: SYN set, ACK, RST and FIN clear.
const SYN_ONLY = 'tcp flags & (fin | syn | rst | ack) == syn';

function portSet(g: PortGroup): string {
  const items = [...g.ports.map(String), ...(g.ranges ?? []).map(([low, high]) => `${low}-${high}`)];
  return items.length === 1 ? items[0]! : `{ ${items.join(', ')} }`;
}

function rule(g: PortGroup): string {
  const parts: string[] = [];
  if (g.dst !== null) parts.push(`${isIPv6(g.dst) ? 'ip6' : 'ip'} daddr ${g.dst}`);
  parts.push(`${g.proto} dport ${portSet(g)}`);
  if (g.synOnly) parts.push(SYN_ONLY);
  parts.push('goto knock');
  return parts.join(' ');
}

function sourceSet(name: string, type: string): string[] {
  return [
    `\tset ${name} {`,
    `\t\ttype ${type}`,
    `\t\tsize ${SOURCE_TABLE.size}`,
    '\t\tflags dynamic,timeout',
    `\t\ttimeout ${SOURCE_TABLE.expireMs / 1000}s`,
    '\t}',
  ];
}

/** The ruleset after the caller's header comment. */
export function nftRules(groups: readonly PortGroup[], o: NftOptions): string {
  const perSource = `limit rate ${PER_SOURCE.rate}/second burst ${PER_SOURCE.burst} packets`;
  const mask6 = 'ffff:'.repeat(IPV6_SOURCE_BITS / 16) + ':';
  // queue-threshold 1: see iptables.ts (the kernel would batch NFLOG packets for up to 1 s).
  const log = o.via === 'log' ? `log prefix "${o.prefix}" level warn` : `log group ${o.group} prefix "${o.prefix}" queue-threshold 1`;
  const lines = [
    '# Load with: nft -f FILE',
    DESIGN,
    `table inet ${TABLE}`,
    `delete table inet ${TABLE}`,
    `table inet ${TABLE} {`,
    ...sourceSet('sources4', 'ipv4_addr'),
    ...sourceSet('sources6', 'ipv6_addr'),
    '\tchain input {',
    '\t\ttype filter hook input priority filter - 10; policy accept;',
    ...groups.map((g) => `\t\t${rule(g)}`),
    '\t}',
    '\tchain knock {',
    `\t\tupdate @sources4 { ip saddr ${perSource} } goto emit`,
    `\t\tupdate @sources6 { ip6 saddr & ${mask6} ${perSource} } goto emit`,
    '\t}',
    '\tchain emit {',
    `\t\tlimit rate ${TOTAL.rate}/second burst ${TOTAL.burst} packets counter ${log}`,
    '\t}',
    '}',
  ];
  return lines.join('\n') + '\n';
}
