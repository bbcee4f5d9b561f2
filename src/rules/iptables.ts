// The logging rules as an `iptables-restore --noflush` (or ip6tables-restore) file.

import { IPV6_SOURCE_BITS, NFLOG_SNAPLEN, PER_PORT, PER_SOURCE, PORT_TABLE, SOURCE_TABLE, type Via } from './limits.js';
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
#   logs them. --noflush keeps every other rule, and declaring
#   a chain (":${CHAIN} - [0:0]") creates it or, when it exists, empties it: loading
#   a newer file replaces the port list atomically, in one commit.
# - "-I INPUT 1" puts the jump first, before any DROP (an ACCEPT or LOG rule
#   appended after a DROP never sees a packet). A restore file cannot test
#   whether the jump exists, so load the file with it once (at boot), and to
#   refill the chains of a running firewall generate with --no-jump.
# - Rules of ${CHAIN} go to ${LOG_CHAIN} with -g (goto): after logging, the
#   packet returns straight to INPUT, so it is logged at most once, and INPUT's
#   own rules then decide (the ports stay closed).`;

const LOG_BUDGETS = `# - Two limits, both must allow a line. First per source (hashlimit,
#   ${PER_SOURCE.rate}/s, burst ${PER_SOURCE.burst}): one flooding address cannot starve other knocks
#   out of the log. Then per knock port (hashlimit on the destination port,
#   ${PER_PORT.rate}/s, burst ${PER_PORT.burst}; a time-based door's range is one limit): a flood from
#   many addresses at one port spends only that port's budget, and the disk
#   takes at most ${PER_PORT.rate} lines a second per port. Only logging is limited; no
#   packet is dropped here.`;

const NFLOG_BUDGET = `# - No rate limit: NFLOG copies only the headers (${NFLOG_SNAPLEN} bytes) to ulogd2, which
#   hands them to knocklog over a Unix socket (ulogd-socket:PATH); nothing reaches
#   the disk. When ulogd2 and knocklog cannot keep up, the kernel drops what
#   they cannot take, at random: no flood can reserve a budget for itself.`;

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

function target(o: IptablesOptions): string {
  // Threshold 1: the kernel sends each NFLOG packet at once; by default it batches
  // up to 100 for up to 1 s (measured: a knock reached ulogd2's file 1 s late).
  return o.via === 'log'
    ? `-j LOG --log-prefix "${o.prefix}" --log-level warning`
    : `-j NFLOG --nflog-group ${o.group} --nflog-prefix "${o.prefix}" --nflog-size ${NFLOG_SNAPLEN}`
      + ' --nflog-threshold 1';
}

/** A hashlimit match; `mode` may carry its mask option (`srcip --hashlimit-srcmask 64`). */
function hashlimit(name: string, test: 'upto' | 'above', mode: string, rate: { rate: number; burst: number },
  table: { size: number; expireMs: number }): string {
  return [
    '-m hashlimit', `--hashlimit-${test} ${rate.rate}/second`, `--hashlimit-burst ${rate.burst}`,
    `--hashlimit-mode ${mode}`, `--hashlimit-name ${name}`, `--hashlimit-htable-size ${table.size / 16}`,
    `--hashlimit-htable-max ${table.size}`, `--hashlimit-htable-expire ${table.expireMs}`,
  ].join(' ');
}

/** The rules of LOG_CHAIN: NFLOG at once, or LOG under the per-source and then the per-port budget. */
function logRules(groups: readonly PortGroup[], o: IptablesOptions): string[] {
  if (o.via === 'nflog') return [`-A ${LOG_CHAIN} ${target(o)}`];
  const bySource = o.family === 6 ? `srcip --hashlimit-srcmask ${IPV6_SOURCE_BITS}` : 'srcip';
  const overSource = hashlimit(CHAIN.toLowerCase(), 'above', bySource, PER_SOURCE, SOURCE_TABLE);
  const lines = [`-A ${LOG_CHAIN} ${overSource} -j RETURN`];
  // A range would take one bucket per port of it: it gets one limit of its own instead.
  const rangeLimit = `-m limit --limit ${PER_PORT.rate}/second --limit-burst ${PER_PORT.burst}`;
  for (const g of groups) {
    for (const [low, high] of g.ranges ?? []) {
      const m = match(g, `${low}:${high}`);
      lines.push(`-A ${LOG_CHAIN} ${m} ${rangeLimit} ${target(o)}`, `-A ${LOG_CHAIN} ${m} -j RETURN`);
    }
  }
  const perPort = hashlimit(`${CHAIN.toLowerCase()}-port`, 'upto', 'dstport', PER_PORT, PORT_TABLE);
  lines.push(`-A ${LOG_CHAIN} ${perPort} ${target(o)}`);
  return lines;
}

/** The file's body after the caller's header comment. */
export function iptablesRules(groups: readonly PortGroup[], o: IptablesOptions): string {
  const tool = o.family === 4 ? 'iptables-restore' : 'ip6tables-restore';
  const lines = [
    `# Load with: ${tool} --noflush < FILE`,
    DESIGN,
    o.via === 'log' ? LOG_BUDGETS : NFLOG_BUDGET,
    '*filter',
    `:${CHAIN} - [0:0]`,
    `:${LOG_CHAIN} - [0:0]`,
  ];
  if (o.jump) lines.push(`-I INPUT 1 -j ${CHAIN}`);
  for (const g of groups) {
    for (const ports of chunks(g.ports, MULTIPORT_MAX)) lines.push(`-A ${CHAIN} ${match(g, ports)} -g ${LOG_CHAIN}`);
    for (const [low, high] of g.ranges ?? []) lines.push(`-A ${CHAIN} ${match(g, `${low}:${high}`)} -g ${LOG_CHAIN}`);
  }
  lines.push(...logRules(groups, o), 'COMMIT');
  return `${lines.join('\n')}\n`;
}
