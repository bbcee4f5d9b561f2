// Kernel LOG lines of the exact shapes captured on a real host (shared/design.md),
// for replay and engine tests: rsyslog's high-precision stamp plus the kernel's
// [uptime], so times are exact to the microsecond.

import { expandIPv6 } from './ipv6.js';

export interface Knock {
  /** Seconds since the first line of the log (the kernel's uptime offset is added). */
  t: number;
  src: string;
  dpt: number;
  proto?: 'tcp' | 'udp';
  dst?: string;
  spt?: number;
  /** TCP flag words; default SYN. */
  flags?: string[];
  iface?: string;
  prefix?: string;
}

const BOOT = Date.parse('2026-11-24T20:00:00Z');
const UPTIME0 = 3600;
let nextSpt = 40000;

/** One rsyslog line for a knock; IPv6 addresses are printed in full, as the kernel does. */
export function kernLine(k: Knock, boot = BOOT, uptime0 = UPTIME0): string {
  const uptime = uptime0 + k.t;
  const stamp = new Date(boot + uptime * 1000).toISOString().replace('Z', '+00:00')
    .replace(/\.(\d{3})/, (_, ms) => `.${ms}000`);
  const v6 = k.src.includes(':');
  const dst = k.dst ?? (v6 ? 'fd31::1' : '10.77.0.1');
  const spt = k.spt ?? (nextSpt = nextSpt >= 65535 ? 1024 : nextSpt + 1);
  const iface = k.iface ?? 'vsrv';
  const head = `${stamp} vm kernel: [${uptime.toFixed(6).padStart(12)}] ${k.prefix ?? 'KNOCK'} IN=${iface} OUT= `;
  const mac = `MAC=26:0d:f0:5f:b3:ba:0e:c8:ae:a0:91:48:${v6 ? '86:dd' : '08:00'} `;
  const ip = v6
    ? `SRC=${expandIPv6(k.src)} DST=${expandIPv6(dst)} LEN=${k.proto === 'udp' ? 49 : 80} `
      + 'TC=0 HOPLIMIT=64 FLOWLBL=315322 '
    : `SRC=${k.src} DST=${dst} LEN=${k.proto === 'udp' ? 29 : 60} TOS=0x00 PREC=0x00 TTL=64 ID=24604 DF `;
  const l4 = k.proto === 'udp'
    ? `PROTO=UDP SPT=${spt} DPT=${k.dpt} LEN=9 `
    : `PROTO=TCP SPT=${spt} DPT=${k.dpt} SEQ=1422455801 ACK=0 WINDOW=64240 RES=0x00 `
      + `${(k.flags ?? ['SYN']).join(' ')} URGP=0 `;
  return head + mac + ip + l4;
}

/** The replay `time` of a knock at offset t. */
export function knockTime(t: number): string {
  return new Date(BOOT + (UPTIME0 + t) * 1000).toISOString();
}

/**
 * A line for a knock happening now (plus k.t seconds) on this host: the
 * [uptime] stamp is this host's CLOCK_MONOTONIC, as the kernel writes it.
 */
export function liveKernLine(k: Knock): string {
  const uptime = Number(process.hrtime.bigint() / 1000n) / 1e6;
  return kernLine(k, Date.now() - uptime * 1000, uptime);
}
