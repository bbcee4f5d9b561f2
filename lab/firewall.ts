// The lab's standard firewall, as iptables-restore text: log the knock ports,
// drop new connections to the protected port.

export type Proto = 'tcp' | 'udp';
export interface KnockPort {
  port: number;
  proto: Proto;
}

export interface FirewallOptions {
  /** The ports whose packets are logged (knockd's `port[:proto]` strings or objects). */
  knock?: ReadonlyArray<KnockPort | string | number>;
  /** New TCP connections to it (or to each) are dropped; 0 or [] for none. Default 2222. */
  protectedPort?: number | readonly number[];
  /** The kernel LOG target, NFLOG (for ulogd2), or both. Default 'log'. */
  via?: 'log' | 'nflog' | 'both';
}

export function knockPort(p: KnockPort | string | number): KnockPort {
  if (typeof p === 'object') return p;
  const [port, proto = 'tcp'] = String(p).split(':');
  if (proto !== 'tcp' && proto !== 'udp') throw new Error(`knock port ${p}: the protocol is tcp or udp`);
  return { port: Number(port), proto };
}

/**
 * The same rules for iptables and ip6tables. The LOG rules are rate-limited as
 * a real setup must be (the limit is far above what a test sends); established
 * traffic is accepted first, so a knock daemon's ACCEPT inserted at the top,
 * or removing the DROP, is all it takes to open the protected port.
 */
export function standardRules(prefix: string, nflogGroup: number, o: FirewallOptions = {}): string {
  const via = o.via ?? 'log';
  const protectedPort = o.protectedPort ?? 2222;
  const rules = ['-A INPUT -m conntrack --ctstate ESTABLISHED,RELATED -j ACCEPT'];
  for (const k of (o.knock ?? []).map(knockPort)) {
    const match = `-A INPUT -p ${k.proto} --dport ${k.port} -m limit --limit 50/second --limit-burst 200`;
    if (via !== 'nflog') rules.push(`${match} -j LOG --log-prefix "${prefix} "`);
    // Threshold 1, as `knocklog rules` writes it: the kernel's default batching delays NFLOG by up to 1 s.
    if (via !== 'log') {
      rules.push(`${match} -j NFLOG --nflog-group ${nflogGroup} --nflog-prefix "${prefix}" --nflog-threshold 1`);
    }
  }
  for (const port of [protectedPort].flat()) if (port) rules.push(`-A INPUT -p tcp --dport ${port} -j DROP`);
  const chains = [':INPUT ACCEPT [0:0]', ':FORWARD ACCEPT [0:0]', ':OUTPUT ACCEPT [0:0]'];
  return ['*filter', ...chains, ...rules, 'COMMIT', ''].join('\n');
}
