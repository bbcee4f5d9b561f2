// One-object-per-line JSON sources: journald (`journalctl -o json`) and
// ulogd2's JSON output plugin.

import { canonicalIPv4, canonicalIPv6 } from '../net.js';
import type { KnockEvent, TcpFlagWord } from '../types.js';
import type { Envelope } from './envelope.js';
import { isInterfaceName, Reject } from './record.js';
import { fromEpochMicros } from './time.js';

type Json = Record<string, unknown>;

function object(line: string): Json {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    throw new Reject('malformed JSON');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Reject('JSON line is not an object');
  return v as Json;
}

const DIGITS = /^\d{1,20}$/;

function micros(v: unknown): bigint | null {
  return typeof v === 'string' && DIGITS.test(v) ? BigInt(v) : null;
}

/**
 * A journald record. Only `_TRANSPORT=kernel` counts: journald sets trusted
 * `_` fields itself, so no client can forge it (SYSLOG_IDENTIFIER can be).
 * That transport also carries user-space writes to /dev/kmsg, which the
 * kernel files under facility user: only SYSLOG_FACILITY 0 is the kernel's
 * (journald writes the field on every kernel-transport record).
 */
export function journalEnvelope(line: string): Envelope {
  const o = object(line);
  if (o['_TRANSPORT'] !== 'kernel') {
    throw new Reject(`journal record not from the kernel (_TRANSPORT=${String(o['_TRANSPORT']).slice(0, 20)})`);
  }
  if (o['SYSLOG_FACILITY'] !== '0') {
    const facility = String(o['SYSLOG_FACILITY']).slice(0, 20);
    throw new Reject(`journal record not from the kernel facility (SYSLOG_FACILITY=${facility})`);
  }
  let message = o['MESSAGE'];
  // journald exports a message that is not valid UTF-8 as an array of bytes.
  if (Array.isArray(message) && message.every((b) => Number.isInteger(b) && b >= 0 && b <= 255)) {
    message = Buffer.from(message as number[]).toString('utf8');
  }
  if (typeof message !== 'string') throw new Reject('journal record without MESSAGE');
  const real = micros(o['__REALTIME_TIMESTAMP']);
  const mono = micros(o['_SOURCE_MONOTONIC_TIMESTAMP']);
  return {
    time: () => {
      const t = real === null ? null : fromEpochMicros(real);
      if (t === null && real !== null) throw new Reject('bad __REALTIME_TIMESTAMP');
      return t;
    },
    uptime: mono === null ? null : Number(mono) / 1e6,
    host: typeof o['_HOSTNAME'] === 'string' ? o['_HOSTNAME'] : null,
    message,
    printer: 'kernel',
  };
}

function port(o: Json, key: string): number {
  const v = o[key];
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 65535) throw new Reject(`bad ${key}`);
  return v;
}

function bit(o: Json, key: string): boolean {
  const v = o[key];
  if (v === undefined || v === 0 || v === false) return false;
  if (v === 1 || v === true) return true;
  throw new Reject(`bad ${key}`);
}

const ULOGD_FLAGS: readonly [string, TcpFlagWord][] = [
  ['tcp.urg', 'URG'],
  ['tcp.ack', 'ACK'],
  ['tcp.psh', 'PSH'],
  ['tcp.rst', 'RST'],
  ['tcp.syn', 'SYN'],
  ['tcp.fin', 'FIN'],
];

/** A ulogd2 JSON record, into an event; the prefix must equal `prefix`. */
export function ulogdJsonEvent(line: string, prefix: string): KnockEvent {
  const o = object(line);
  const p = o['oob.prefix'];
  if (typeof p !== 'string') throw new Reject('ulogd2 JSON record without oob.prefix');
  if (p.trimEnd() !== prefix) throw new Reject(`prefix is not "${prefix}"`);
  const family = o['oob.family'];
  if (family !== 2 && family !== 10) throw new Reject('not an IP packet (oob.family)');
  const v6 = family === 10;
  const srcRaw = o['src_ip'];
  const dstRaw = o['dest_ip'];
  const src = typeof srcRaw === 'string' ? (v6 ? canonicalIPv6(srcRaw) : canonicalIPv4(srcRaw)) : null;
  const dst = typeof dstRaw === 'string' ? (v6 ? canonicalIPv6(dstRaw) : canonicalIPv4(dstRaw)) : null;
  if (src === null) throw new Reject('bad src_ip');
  if (dst === null) throw new Reject('bad dest_ip');
  // ulogd2 prints the IPv4 header's whole flags+offset field: DF (0x4000) is
  // set on most packets; a fragment has MF (0x2000) or a non-zero offset.
  const frag = o['ip.fragoff'];
  if (frag !== undefined) {
    if (typeof frag !== 'number' || !Number.isInteger(frag) || frag < 0 || frag > 0xffff) {
      throw new Reject('bad ip.fragoff');
    }
    if ((frag & 0x3fff) !== 0) throw new Reject('IP fragment');
  }
  const ipProto = o['ip.protocol'];
  if (ipProto !== 6 && ipProto !== 17) throw new Reject(`not a knock: ip.protocol ${String(ipProto).slice(0, 10)}`);
  const iface = o['oob.in'];
  if (typeof iface !== 'string' || !isInterfaceName(iface)) throw new Reject('bad oob.in');
  const sec = o['oob.time.sec'];
  const usec = o['oob.time.usec'];
  let time: string | null = null;
  if (sec !== undefined || usec !== undefined) {
    const valid =
      Number.isSafeInteger(sec) &&
      Number.isInteger(usec) &&
      (sec as number) >= 0 &&
      (usec as number) >= 0 &&
      (usec as number) < 1e6;
    time = valid ? fromEpochMicros(BigInt(sec as number) * 1_000_000n + BigInt(usec as number)) : null;
    if (time === null) throw new Reject('bad oob.time.sec/oob.time.usec');
  }
  const flags: TcpFlagWord[] = [];
  if (ipProto === 6) for (const [key, word] of ULOGD_FLAGS) if (bit(o, key)) flags.push(word);
  return {
    time,
    uptime: null,
    host: null,
    prefix,
    in: iface,
    src,
    dst,
    proto: ipProto === 6 ? 'tcp' : 'udp',
    spt: port(o, 'src_port'),
    dpt: port(o, 'dest_port'),
    flags,
  };
}
