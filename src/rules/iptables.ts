// The logging rules as an `iptables-restore --noflush` (or ip6tables-restore) file.

import { IPV6_SOURCE_BITS, PER_SOURCE, SOURCE_TABLE, TOTAL, type Via } from './limits.js';
import { chunks, type Family, type PortGroup } from './ports.js';

export const CHAIN = 'KNOCKLOG';
export const LOG_CHAIN = 'KNOCKLOG-LOG';
/** iptables' multiport match takes at most 15 ports. */
export const MULTIPORT_MAX = 15;

export interface IptablesOptions {
  family: Family;
  via: Via;
  /** The prefix as the target writes it (see rulePrefix). */
  prefix: string;
  group: number;
  /** Emit the jump from INPUT (leave it out to refill the chains of a loaded ruleset). */
  jump: boolean;
}

const DESIGN = `# Design:
# - Two chains of knocklog's own. ${CHAIN} picks the knock packets; ${LOG_CHAIN}
#   rate-limits and logs them. --noflush keeps every other rule, and declaring
#   a chain (":${CHAIN} - [0:0]") creates it or, when it exists, empties it: loading
#   a newer file replaces the port list atomically, in one commit.
# - "-I INPUT 1" puts the jump first, before any DROP (an ACCEPT or LOG rule
#   appended after a DROP never sees a packet). A restore file cannot test
#   whether the jump exists, so load the file with it once (at boot), and to
#   refill the chains of a running firewall generate with --no-jump.
# - Rules of ${CHAIN} go to ${LOG_CHAIN} with -g (goto): after logging, the
#   packet returns straight to INPUT, so it is logged at most once, and INPUT's
#   own rules then decide (the ports stay closed).
# - Two limits, both must allow a line: hashlimit per source
#   (${PER_SOURCE.rate}/s, burst ${PER_SOURCE.burst}), so one flooding address cannot starve
#   other knocks out of the log, and one limit over all sources (${TOTAL.rate}/s,
#   burst ${TOTAL.burst}), so a flood from many addresses cannot fill the disk. Only
#   logging is limited; no packet is dropped here.`;

/** `ports`: one port, several (multiport), or a range `LOW:HIGH`. */
function match(g: PortGroup, ports: number[] | string): string {
  const parts: string[] = [];
  if (g.dst !== null) parts.push(`-d ${g.dst}`);
  parts.push(`-p ${g.proto}`);
  if (g.synOnly) parts.push('--syn');
  if (typeof ports === 'string') parts.push(`--dport ${ports}`);
  else parts.push(ports.length === 1 ? `--dport ${ports[0]}` : `-m multiport --dports ${ports.join(',')}`);
  return parts.join(' ');
}

function logRule(o: IptablesOptions): string {
  const perSource = [
    '-m hashlimit', `--hashlimit-upto ${PER_SOURCE.rate}/second`, `--hashlimit-burst ${PER_SOURCE.burst}`,
    '--hashlimit-mode srcip', ...(o.family === 6 ? [`--hashlimit-srcmask ${IPV6_SOURCE_BITS}`] : []),
    `--hashlimit-name ${CHAIN.toLowerCase()}`, `--hashlimit-htable-size ${SOURCE_TABLE.size / 16}`,
    `--hashlimit-htable-max ${SOURCE_TABLE.size}`, `--hashlimit-htable-expire ${SOURCE_TABLE.expireMs}`,
  ];
  const total = ['-m limit', `--limit ${TOTAL.rate}/second`, `--limit-burst ${TOTAL.burst}`];
  // Threshold 1: the kernel sends each NFLOG packet at once; by default it batches
  // up to 100 for up to 1 s (measured: a knock reached ulogd2's file 1 s late).
  const target = o.via === 'log'
    ? `-j LOG --log-prefix "${o.prefix}" --log-level warning`
    : `-j NFLOG --nflog-group ${o.group} --nflog-prefix "${o.prefix}" --nflog-threshold 1`;
  return `-A ${LOG_CHAIN} ${[...perSource, ...total].join(' ')} ${target}`;
}

/** The file's body after the caller's header comment. */
export function iptablesRules(groups: readonly PortGroup[], o: IptablesOptions): string {
  const tool = o.family === 4 ? 'iptables-restore' : 'ip6tables-restore';
  const lines = [
    `# Load with: ${tool} --noflush < FILE`,
    DESIGN,
    '*filter',
    `:${CHAIN} - [0:0]`,
    `:${LOG_CHAIN} - [0:0]`,
  ];
  if (o.jump) lines.push(`-I INPUT 1 -j ${CHAIN}`);
  for (const g of groups) {
    for (const ports of chunks(g.ports, MULTIPORT_MAX)) lines.push(`-A ${CHAIN} ${match(g, ports)} -g ${LOG_CHAIN}`);
    for (const [low, high] of g.ranges ?? []) lines.push(`-A ${CHAIN} ${match(g, `${low}:${high}`)} -g ${LOG_CHAIN}`);
  }
  lines.push(logRule(o), 'COMMIT');
  return lines.join('\n') + '\n';
}
