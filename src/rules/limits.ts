// What the generated rules may log, and how the prefix is written, shared by
// both backends.

/**
 * Rate limits of the kernel-log rules (`--via log`). Two buckets, both must have a token:
 * - per source (iptables hashlimit, an nft dynamic set), checked first: one
 *   flooding address spends only its own budget, so it cannot starve other
 *   sources' knocks out of the log. The burst covers a knockd sequence of at
 *   most 32 hits sent back to back, plus retransmits.
 * - per knock port (a time-based door's whole range counts as one port): a
 *   flood from many (spoofed) addresses at one port spends that port's budget
 *   only, and the other ports still log. The disk takes at most PER_PORT.rate
 *   lines a second per port: at about 250 bytes a kern.log line, 12.5 KB/s
 *   (about 1 GB a day) per port under a flood that never stops.
 * Packets over either limit are simply not logged; nothing is dropped here.
 * `--via nflog` (ulogd2 onto the ulogd-socket source) has no budget at all:
 * nothing reaches the disk, and a bucket of any kind is one a flood can empty.
 */
export const PER_SOURCE = { rate: 10, burst: 40 } as const;
export const PER_PORT = { rate: 50, burst: 100 } as const;
/** Per-source table: entries expire after this idle time; when full, new sources are not logged. */
export const SOURCE_TABLE = { size: 65536, expireMs: 10000 } as const;
/** Per-port table: at most one entry per port number. */
export const PORT_TABLE = { size: 65536, expireMs: 10000 } as const;
/** IPv6 sources are limited per /64: one host usually owns a whole /64. */
export const IPV6_SOURCE_BITS = 64;

/**
 * NFLOG copies this many bytes of each packet to ulogd2: the IP and TCP/UDP
 * headers (IPv6 40 + TCP at most 60), not the payload a flood may carry.
 */
export const NFLOG_SNAPLEN = 128;

export type Backend = 'iptables' | 'nft';
export type Via = 'log' | 'nflog';

/** Thrown for settings no firewall rule can express; the message says what to do. */
export class RulesError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RulesError';
  }
}

// Longest prefix each target keeps (the kernel's buffers minus the NUL):
// xt_LOG 30, xt_NFLOG 64, nft's log statement 128. Measured: iptables-nft
// silently cuts a longer LOG prefix to 29, losing the space before IN= first.
function maxPrefix(backend: Backend, via: Via): number {
  if (backend === 'nft') return 127;
  return via === 'log' ? 29 : 63;
}

/**
 * The prefix as the rule must carry it. The kernel's LOG output puts the prefix
 * directly before `IN=`, so it gets one trailing space; ulogd2 writes a space
 * after an NFLOG prefix itself (and JSON keeps it apart), so there it has none.
 * knocklog's parser ignores trailing blanks of the configured prefix and skips
 * the blanks before `IN=`, so `KNOCK` and `KNOCK ` configure the same rules.
 */
export function rulePrefix(prefix: string, backend: Backend, via: Via): string {
  const p = prefix.trimEnd();
  if (p === '') throw new RulesError('the log prefix is empty (give one with --prefix, e.g. KNOCK)');
  if (/["\\\x00-\x1f\x7f]/.test(p)) {
    throw new RulesError(
      `the log prefix ${JSON.stringify(p)} contains a quote, backslash or control character, ` +
        'which firewall rule files cannot carry (choose a prefix without them, e.g. KNOCK)',
    );
  }
  const written = via === 'log' ? `${p} ` : p;
  const max = maxPrefix(backend, via);
  // The kernel's buffers count bytes, not characters.
  const bytes = Buffer.byteLength(written);
  if (bytes > max) {
    const what =
      backend === 'nft' ? "nft's log statement" : via === 'log' ? "the kernel's LOG target" : 'the NFLOG target';
    const space = via === 'log' ? ' with the space before IN=' : '';
    throw new RulesError(`the log prefix ${JSON.stringify(written)} is ${bytes} bytes${space}; `
      + `${what} keeps at most ${max} (choose a shorter Prefix in [options] or --prefix)`);
  }
  return written;
}
