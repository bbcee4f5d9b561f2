// Which packets the firewall must log: exactly the knock ports and protocols of
// all doors, deduplicated, grouped into as few rules as the backends allow.

import { isIPv6 } from '../net.js';
import type { Config, Door, Proto, SequenceStep, TcpFlagRule } from '../types.js';

/** One rule's worth of ports: the same destination, protocol and TCP flag test. */
export interface PortGroup {
  /** A door's Target (canonical), or null: any local address (INPUT only sees those). */
  dst: string | null;
  proto: Proto;
  /** TCP: match only SYN packets (iptables `--syn`); false logs every TCP packet to the ports. */
  synOnly: boolean;
  /** Ascending, no duplicates. */
  ports: number[];
  /** Inclusive port ranges (time-based doors' Sequence_Ports), ascending; only present when there are some. */
  ranges?: [number, number][];
}

export type Family = 4 | 6;

/** Every step a door can be knocked with: its sequence, or all unused one-time entries. */
function doorSteps(door: Door): readonly SequenceStep[] {
  if (door.kind === 'fixed') return door.sequence;
  if (door.kind === 'oneTime') return door.oneTime.entries.flatMap((e) => e.sequence);
  return [];
}

// A knock client sends SYN without ACK, RST or FIN, which is what `--syn`
// matches. Logging only those keeps ACKs and resets of unrelated traffic out of
// the log. A door whose TCPFlags demand another flag or forbid SYN would never
// see its knocks that way, so its ports log all TCP packets.
function needsAllTcp(flags: readonly TcpFlagRule[]): boolean {
  return flags.some((r) => (r.flag === 'syn' ? r.negated : !r.negated));
}

/** `covers(a, b)`: a rule matching `a` logs every packet a rule matching `b` would. */
function covers(a: { dst: string | null; synOnly: boolean }, b: { dst: string | null; synOnly: boolean }): boolean {
  return (a.dst === null || a.dst === b.dst) && (!a.synOnly || b.synOnly);
}

/**
 * The port groups for the given address families (a Target of another family
 * is left out), in a stable order: destinations as doors first name them (any
 * address first), then tcp SYN-only, tcp, udp.
 */
export function portGroups(config: Config, families: readonly Family[]): PortGroup[] {
  // (dst, proto, port) -> synOnly; a door needing all TCP wins over SYN-only.
  const wanted = new Map<string, { dst: string | null; proto: Proto; port: number; synOnly: boolean }>();
  const dsts: (string | null)[] = [null];
  for (const door of config.doors) {
    const dst = door.target;
    if (dst !== null && !families.includes(isIPv6(dst) ? 6 : 4)) continue;
    if (!dsts.includes(dst)) dsts.push(dst);
    const allTcp = needsAllTcp(door.tcpFlags);
    for (const { proto, port } of doorSteps(door)) {
      const key = `${dst}|${proto}|${port}`;
      const synOnly = proto === 'tcp' && !allTcp;
      const seen = wanted.get(key);
      wanted.set(key, { dst, proto, port, synOnly: (seen?.synOnly ?? true) && synOnly });
    }
  }
  // A time-based door's sequences change with time: one rule for its whole range, not one per port.
  const ranges = config.doors.flatMap((door) => {
    if (door.kind !== 'timed' || (door.target !== null && !families.includes(isIPv6(door.target) ? 6 : 4))) return [];
    const t = door.timed;
    const synOnly = t.proto === 'tcp' && !needsAllTcp(door.tcpFlags);
    return [{ dst: door.target, proto: t.proto, low: t.low, high: t.high, synOnly }];
  });
  const all = [...wanted.values()];
  // A Target door's port that the any-address rules (or a range) already log needs no rule of its own.
  const needed = all.filter((m) => !all.some((o) => o !== m && o.proto === m.proto && o.port === m.port && covers(o, m))
    && !ranges.some((r) => r.proto === m.proto && r.low <= m.port && m.port <= r.high && covers(r, m)));
  const groups: PortGroup[] = [];
  for (const dst of dsts) {
    for (const [proto, synOnly] of [['tcp', true], ['tcp', false], ['udp', false]] as const) {
      const ports = needed
        .filter((m) => m.dst === dst && m.proto === proto && m.synOnly === synOnly)
        .map((m) => m.port);
      const mine = ranges.filter((r) => r.dst === dst && r.proto === proto && r.synOnly === synOnly)
        .map((r): [number, number] => [r.low, r.high]).sort((a, b) => a[0] - b[0]);
      if (ports.length === 0 && mine.length === 0) continue;
      const group: PortGroup = { dst, proto, synOnly, ports: ports.sort((a, b) => a - b) };
      if (mine.length > 0) group.ranges = mine;
      groups.push(group);
    }
  }
  return groups;
}

/** Splits a list into pieces of at most `size` (iptables' multiport takes 15 ports). */
export function chunks<T>(list: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < list.length; i += size) out.push(list.slice(i, i + size));
  return out;
}
