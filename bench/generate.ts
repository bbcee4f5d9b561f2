// Realistic kern.log content for throughput benchmarks: knock records (TCP and
// UDP, IPv4 and IPv6) mixed with other firewall records and ordinary kernel
// messages, in rsyslog's traditional format. Deterministic for a given seed.

import { createWriteStream } from 'node:fs';
import { once } from 'node:events';

export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const MAC = 'MAC=2e:cb:25:4d:68:c8:a2:02:1d:49:d3:4c:08:00';
const MAC6 = 'MAC=2e:cb:25:4d:68:c8:a2:02:1d:49:d3:4c:86:dd';
const OTHER = [
  'e1000e 0000:00:19.0 eth0: NIC Link is Up 1000 Mbps Full Duplex, Flow Control: None',
  'audit: type=1400 audit(1732488092.123:42): apparmor="DENIED" operation="open" profile="/usr/sbin/ntpd" ' +
    'name="/etc/ssl/openssl.cnf" pid=812 comm="ntpd"',
  'TCP: request_sock_TCP: Possible SYN flooding on port 22. Sending cookies.  Check SNMP counters.',
  'nf_conntrack: nf_conntrack: table full, dropping packet',
  'EXT4-fs (vda1): re-mounted. Opts: errors=remount-ro. Quota mode: none.',
];

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const pad2 = (n: number) => String(n).padStart(2, '0');

/** rsyslog's traditional stamp (local time) with the kernel's `[uptime]`, as kern.log lines begin. */
export function kernStamp(date: Date, uptimeS: number): string {
  const day = String(date.getDate()).padStart(2, ' ');
  const time = `${pad2(date.getHours())}:${pad2(date.getMinutes())}:${pad2(date.getSeconds())}`;
  return `${MONTHS[date.getMonth()]} ${day} ${time} vm kernel: [${uptimeS.toFixed(6).padStart(12)}] `;
}

/** The stamp of generated line `i`: one line a millisecond, on a fixed day. */
function syntheticStamp(i: number): string {
  const sec = 9000 + i / 1000;
  const clock = `23:${pad2(Math.floor(i / 60000) % 60)}:${pad2(Math.floor(i / 1000) % 60)}`;
  return `Nov 24 ${clock} vm kernel: [${sec.toFixed(6).padStart(12)}] `;
}

/**
 * One line; `kind` 0..9: 0-3 knock records, 4-6 other firewall records, 7-9
 * other messages. `stamp` replaces the synthetic time (live benchmarks need fresh ones).
 */
export function line(r: () => number, i: number, stamp = syntheticStamp(i)): string {
  const kind = Math.floor(r() * 10);
  const a = 1 + Math.floor(r() * 250);
  const b = 1 + Math.floor(r() * 250);
  const spt = 1024 + Math.floor(r() * 60000);
  const dpt = [7000, 8000, 9000, 22, 443][Math.floor(r() * 5)];
  if (kind <= 1) {
    return (
      `${stamp}KNOCK IN=eth0 OUT= ${MAC} SRC=10.${a}.${b}.2 DST=10.0.0.1 LEN=60 TOS=0x00 PREC=0x00 TTL=64 ` +
      `ID=${i % 65536} DF PROTO=TCP SPT=${spt} DPT=${dpt} WINDOW=64240 RES=0x00 SYN URGP=0 `
    );
  }
  if (kind === 2) {
    return (
      `${stamp}KNOCK IN=eth0 OUT= ${MAC} SRC=10.${a}.${b}.2 DST=10.0.0.1 LEN=29 TOS=0x00 PREC=0x00 TTL=64 ` +
      `ID=${i % 65536} DF PROTO=UDP SPT=${spt} DPT=${dpt} LEN=9 `
    );
  }
  if (kind === 3) {
    return (
      `${stamp}KNOCK IN=eth0 OUT= ${MAC6} SRC=fd31:0000:0000:0000:0000:0000:${a.toString(16).padStart(4, '0')}:0002 ` +
      'DST=fd31:0000:0000:0000:0000:0000:0000:0001 LEN=80 TC=0 HOPLIMIT=64 ' +
      `FLOWLBL=${spt} PROTO=TCP SPT=${spt} DPT=${dpt} WINDOW=64800 RES=0x00 SYN URGP=0 `
    );
  }
  if (kind <= 6) {
    return (
      `${stamp}[UFW BLOCK] IN=eth0 OUT= ${MAC} SRC=203.0.113.${a} DST=10.0.0.1 LEN=40 TOS=0x00 PREC=0x00 TTL=244 ` +
      `ID=54321 PROTO=TCP SPT=${spt} DPT=${dpt} WINDOW=65535 RES=0x00 SYN URGP=0 `
    );
  }
  return stamp + OTHER[Math.floor(r() * OTHER.length)];
}

/** Writes `count` lines made by `make(i)` to `path`, in 1 MiB writes. */
async function writeLines(path: string, count: number, make: (i: number) => string): Promise<void> {
  const out = createWriteStream(path);
  let buf = '';
  for (let i = 0; i < count; i++) {
    buf += `${make(i)}\n`;
    if (buf.length > 1 << 20) {
      if (!out.write(buf)) await once(out, 'drain');
      buf = '';
    }
  }
  out.end(buf);
  await once(out, 'finish');
}

export async function generate(path: string, count: number, seed = 1): Promise<void> {
  const r = rng(seed);
  await writeLines(path, count, (i) => line(r, i));
}

/**
 * A spoofed flood as kern.log shows it: `count` first knocks at `port`, each
 * from a source of its own (10.x.y.z), 2 µs apart: a million of them fit in
 * one seq_timeout, so every attempt is still in progress when the next comes.
 */
export async function generateFlood(path: string, count: number, port: number): Promise<void> {
  await writeLines(path, count, (i) => {
    const sec = 9000 + i * 2e-6;
    const stamp = `Nov 24 23:30:${pad2(Math.floor(sec) % 60)} vm kernel: [${sec.toFixed(6).padStart(12)}] `;
    return tcpKnock(stamp, `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, port, i);
  });
}

/** A TCP SYN knock record from `src` to 10.0.0.1:`port`; `i` picks its IP ID and source port. */
export function tcpKnock(stamp: string, src: string, port: number, i: number): string {
  return `${stamp}KNOCK IN=eth0 OUT= ${MAC} SRC=${src} DST=10.0.0.1 LEN=60 TOS=0x00 PREC=0x00 TTL=64 ` +
    `ID=${i % 65536} DF ` +
    `PROTO=TCP SPT=${1024 + (i % 60000)} DPT=${port} WINDOW=64240 RES=0x00 SYN URGP=0 `;
}
