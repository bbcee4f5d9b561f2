// The fields of one firewall LOG record, from `IN=` to the end of the line,
// parsed by position in the order the kernel's nf_log_syslog (and ulogd2's
// LOGEMU printer) write them. Every key has one place and one shape, so a
// duplicated, unknown, misplaced or malformed field rejects the whole record:
// merged, cut or hand-written lines never become partial events.

import { canonicalIPv4, canonicalIPv6 } from '../net.js';
import type { KnockEvent, Proto, TcpFlagWord } from '../types.js';

/** What a record itself says; the envelope around it gives the rest of a KnockEvent. */
export type RecordFields = Pick<KnockEvent, 'in' | 'src' | 'dst' | 'proto' | 'spt' | 'dpt' | 'flags'>;

/** Which printer wrote the record: the kernel's LOG target, or ulogd2's LOGEMU. */
export type Printer = 'kernel' | 'logemu';

/**
 * Why a line is not a knock record. Not an Error: most log lines are rejects,
 * and capturing a stack trace for each would cost more than parsing.
 */
export class Reject {
  constructor(readonly message: string) {}
}

const IFACE = /^[^\s/=]{0,15}$/;

/** An interface name as the kernel prints it (at most 15 bytes, no blanks, '/' or '='). */
export function isInterfaceName(s: string): boolean {
  return IFACE.test(s);
}
const MAC = /^(?:[0-9a-f]{2}(?::[0-9a-f]{2})*)?$/;
const MAC6 = /^[0-9a-f]{2}(?::[0-9a-f]{2}){5}$/;
const HEX4 = /^[0-9a-f]{4}$/;
const UINT = /^(?:0|[1-9]\d{0,9})$/;
const HEXBYTE_0X = /^0x[0-9A-Fa-f]{2}$/;
const HEXBYTE = /^[0-9A-Fa-f]{2}$/;
const MARK = /^(?:0x)?[0-9a-fA-F]{1,8}$/;
const OPT_HEX = /^\(?[0-9A-Fa-f]*\)?$/;

/** Flag words in the order both printers emit them. */
const FLAG_ORDER: readonly TcpFlagWord[] = ['CWR', 'ECE', 'URG', 'ACK', 'PSH', 'RST', 'SYN', 'FIN'];

class Cursor {
  i = 0;
  constructor(readonly t: string[]) {}

  peek(): string | undefined {
    return this.t[this.i];
  }

  /** The value of `KEY=` at the cursor, consuming it; null when the next token is not that key. */
  opt(key: string): string | null {
    const tok = this.t[this.i];
    if (tok === undefined || !tok.startsWith(key) || tok.charCodeAt(key.length) !== 61 /* = */) return null;
    this.i++;
    return tok.slice(key.length + 1);
  }

  req(key: string): string {
    const v = this.opt(key);
    if (v === null) {
      const tok = this.t[this.i];
      throw new Reject(tok === undefined ? `record ends before ${key}=` : `expected ${key}= but found "${clip(tok)}"`);
    }
    return v;
  }

  word(w: string): boolean {
    if (this.t[this.i] !== w) return false;
    this.i++;
    return true;
  }
}

function clip(s: string): string {
  return s.length > 40 ? `${s.slice(0, 40)}...` : s;
}

function check(key: string, value: string, re: RegExp): string {
  if (!re.test(value)) throw new Reject(`bad ${key}="${clip(value)}"`);
  return value;
}

function uint(key: string, value: string, max: number): number {
  if (!UINT.test(value)) throw new Reject(`bad ${key}="${clip(value)}"`);
  const n = Number(value);
  if (n > max) throw new Reject(`${key}=${value} is out of range`);
  return n;
}

/** `OPT (hex)` (IP or TCP options) or ip6tables' `OPT ( )`: skipped, but it must be complete. */
function skipOptGroups(c: Cursor): void {
  while (c.peek() === 'OPT') {
    c.i++;
    let closed = false;
    for (let first = true; !closed; first = false) {
      const tok = c.t[c.i];
      if (tok === undefined || tok === '') throw new Reject('truncated OPT group');
      if (!OPT_HEX.test(tok) || (first && !tok.startsWith('('))) throw new Reject(`bad OPT group "${clip(tok)}"`);
      c.i++;
      closed = tok.endsWith(')');
    }
  }
}

function skipMac(c: Cursor): void {
  const mac = c.opt('MAC');
  if (mac !== null) {
    check('MAC', mac, MAC);
    return;
  }
  // --log-macdecode / nft "flags ether": MACSRC, MACDST, an offloaded VLAN tag, MACPROTO.
  const macsrc = c.opt('MACSRC');
  if (macsrc === null) return;
  check('MACSRC', macsrc, MAC6);
  check('MACDST', c.req('MACDST'), MAC6);
  const vproto = c.opt('VPROTO');
  if (vproto !== null) {
    check('VPROTO', vproto, HEX4);
    uint('VID', c.req('VID'), 4095);
  }
  const macproto = check('MACPROTO', c.req('MACPROTO'), HEX4);
  if (macproto !== '0800' && macproto !== '86dd') throw new Reject(`not an IP packet: MACPROTO=${macproto}`);
}

function ipv4Header(c: Cursor, printer: Printer): void {
  uint('LEN', c.req('LEN'), 65535);
  check('TOS', c.req('TOS'), printer === 'kernel' ? HEXBYTE_0X : HEXBYTE);
  check('PREC', c.req('PREC'), HEXBYTE_0X);
  uint('TTL', c.req('TTL'), 255);
  uint('ID', c.req('ID'), 65535);
  c.word('CE');
  c.word('DF');
  if (c.word('MF')) throw new Reject('IP fragment');
  if (c.peek()?.startsWith('FRAG:')) throw new Reject('IP fragment');
  skipOptGroups(c);
}

function ipv6Header(c: Cursor): void {
  uint('LEN', c.req('LEN'), 4294967295);
  uint('TC', c.req('TC'), 255);
  uint('HOPLIMIT', c.req('HOPLIMIT'), 255);
  uint('FLOWLBL', c.req('FLOWLBL'), 0xfffff);
  skipOptGroups(c);
  if (c.peek()?.startsWith('FRAG:')) throw new Reject('IPv6 fragment');
}

function tcp(c: Cursor, printer: Printer): TcpFlagWord[] {
  const seq = c.opt('SEQ');
  if (seq !== null) {
    uint('SEQ', seq, 4294967295);
    uint('ACK', c.req('ACK'), 4294967295);
  } else if (printer === 'logemu') {
    throw new Reject('expected SEQ= (ulogd2 always prints it)');
  }
  uint('WINDOW', c.req('WINDOW'), 65535);
  if (printer === 'kernel') check('RES', c.req('RES'), HEXBYTE_0X);
  const flags: TcpFlagWord[] = [];
  let next = 0;
  for (;;) {
    const tok = c.peek();
    const at = tok === undefined ? -1 : FLAG_ORDER.indexOf(tok as TcpFlagWord);
    if (at === -1) break;
    if (at < next) throw new Reject(`TCP flag ${tok} repeated or out of order`);
    flags.push(FLAG_ORDER[at]!);
    next = at + 1;
    c.i++;
  }
  uint('URGP', c.req('URGP'), 65535);
  skipOptGroups(c);
  return flags;
}

/**
 * The strict, token-by-token parser: the authority on what a record is, and
 * the source of the reason when it is not one.
 */
function parseTokens(body: string, printer: Printer): RecordFields {
  const tokens = body.split(' ');
  // The kernel ends every field with a space; ulogd2 does not.
  if (tokens[tokens.length - 1] === '') tokens.pop();
  const c = new Cursor(tokens);

  const iface = check('IN', c.req('IN'), IFACE);
  check('OUT', c.req('OUT'), IFACE);
  const physin = c.opt('PHYSIN');
  if (physin !== null) check('PHYSIN', physin, IFACE);
  const physout = c.opt('PHYSOUT');
  if (physout !== null) check('PHYSOUT', physout, IFACE);
  skipMac(c);

  const srcRaw = c.req('SRC');
  const dstRaw = c.req('DST');
  const v6 = srcRaw.includes(':');
  const src = v6 ? canonicalIPv6(srcRaw) : canonicalIPv4(srcRaw);
  if (src === null) throw new Reject(`bad SRC="${clip(srcRaw)}"`);
  const dst = v6 ? canonicalIPv6(dstRaw) : canonicalIPv4(dstRaw);
  if (dst === null) throw new Reject(`bad DST="${clip(dstRaw)}" (SRC is IPv${v6 ? 6 : 4})`);

  if (v6) ipv6Header(c);
  else ipv4Header(c, printer);

  const protoRaw = c.req('PROTO');
  let proto: Proto;
  if (protoRaw === 'TCP') proto = 'tcp';
  else if (protoRaw === 'UDP') proto = 'udp';
  else throw new Reject(`not a knock: PROTO=${clip(protoRaw)}`);
  if (c.peek() === 'INCOMPLETE') throw new Reject('incomplete transport header');

  const spt = uint('SPT', c.req('SPT'), 65535);
  const dpt = uint('DPT', c.req('DPT'), 65535);
  // UDP: its LEN= is checked, and it has no flags.
  if (proto === 'udp') uint('LEN', c.req('LEN'), 65535);
  const flags = proto === 'tcp' ? tcp(c, printer) : [];

  const uid = c.opt('UID');
  if (uid !== null) {
    uint('UID', uid, 4294967295);
    uint('GID', c.req('GID'), 4294967295);
  }
  const mark = c.opt('MARK');
  if (mark !== null) check('MARK', mark, MARK);

  if (c.i < tokens.length) throw new Reject(`unexpected "${clip(tokens[c.i]!)}" after the record`);
  return { in: iface, src, dst, proto, spt, dpt, flags };
}

// The common layouts as one anchored regular expression per printer: about
// seven times faster than the token parser, which still decides every line
// this does not match. It accepts a subset of what parseTokens accepts, with
// the same fields (a property test holds the two together).
const IFC = '[^\\s/=]{0,15}';
// Exact ranges where the token parser checks them (or a subset, which only
// sends the rare larger value to the token parser).
const U16 = '(?:6553[0-5]|655[0-2]\\d|65[0-4]\\d\\d|6[0-4]\\d{3}|[1-5]\\d{4}|[1-9]\\d{0,3}|0)';
const U32 = '(?:[1-3]\\d{9}|[1-9]\\d{0,8}|0)';
const U8 = '(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)';
const VID = '(?:409[0-5]|40[0-8]\\d|[1-3]\\d{3}|[1-9]\\d{0,2}|0)';
const FLOWLBL = '(?:[1-9]\\d{0,5}|0)';
const HH = '[0-9A-Fa-f]{2}';
const MACS = '[0-9a-f]{2}(?::[0-9a-f]{2}){5}';
function fastRecord(printer: Printer): RegExp {
  const tos = printer === 'kernel' ? `0x${HH}` : HH;
  const seqAck = `SEQ=${U32} ACK=${U32} `;
  const tcp =
    `(TCP) SPT=(${U16}) DPT=(${U16}) ${printer === 'kernel' ? `(?:${seqAck})?` : seqAck}WINDOW=${U16} ` +
    `${printer === 'kernel' ? `RES=0x${HH} ` : ''}` +
    '((?:CWR )?(?:ECE )?(?:URG )?(?:ACK )?(?:PSH )?(?:RST )?(?:SYN )?(?:FIN )?)' +
    `URGP=${U16} (?:OPT \\([0-9A-Fa-f]*\\) )?`;
  return new RegExp(
    `^IN=(${IFC}) OUT=${IFC} (?:PHYSIN=${IFC} )?(?:PHYSOUT=${IFC} )?` +
      '(?:MAC=(?:[0-9a-f]{2}(?::[0-9a-f]{2})*)? ' +
      `|MACSRC=${MACS} MACDST=${MACS} (?:VPROTO=[0-9a-f]{4} VID=${VID} )?MACPROTO=(?:0800|86dd) )?` +
      `SRC=([^ ]{1,45}) DST=([^ ]{1,45}) ` +
      `(?:LEN=${U16} TOS=${tos} PREC=0x${HH} TTL=${U8} ID=${U16} (?:CE )?(?:DF )?(?:OPT \\([0-9A-Fa-f]*\\) )?` +
      `|LEN=${U32} (TC)=${U8} HOPLIMIT=${U8} FLOWLBL=${FLOWLBL} (?:OPT \\( ?[0-9A-Fa-f]*\\) )*)` +
      `PROTO=(?:${tcp}|(UDP) SPT=(${U16}) DPT=(${U16}) LEN=${U16} )` +
      `(?:UID=${U32} GID=${U32} )?(?:MARK=(?:0x)?[0-9a-fA-F]{1,8} )?$`,
  );
}
const FAST: Record<Printer, RegExp> = { kernel: fastRecord('kernel'), logemu: fastRecord('logemu') };

/** The fast path; null when the line needs the token parser (to accept it or to say why not). */
export function fastParse(body: string, printer: Printer): RecordFields | null {
  const m = FAST[printer].exec(body.endsWith(' ') ? body : `${body} `);
  if (m === null) return null;
  const tcp = m[5] !== undefined;
  const spt = Number(tcp ? m[6] : m[10]);
  const dpt = Number(tcp ? m[7] : m[11]);
  const v6 = m[4] !== undefined;
  const src = v6 ? canonicalIPv6(m[2]!) : canonicalIPv4(m[2]!);
  const dst = v6 ? canonicalIPv6(m[3]!) : canonicalIPv4(m[3]!);
  if (src === null || dst === null) return null;
  const words = tcp ? m[8]! : '';
  return {
    in: m[1]!,
    src,
    dst,
    proto: tcp ? 'tcp' : 'udp',
    spt,
    dpt,
    flags: words === '' ? [] : (words.slice(0, -1).split(' ') as TcpFlagWord[]),
  };
}

/**
 * Parses `IN=... OUT=... ... PROTO=TCP SPT=... DPT=...` (the text after the
 * prefix). Throws Reject with the reason when the record is not a complete,
 * well-formed TCP or UDP record.
 */
export function parseRecord(body: string, printer: Printer): RecordFields {
  return fastParse(body, printer) ?? parseTokens(body, printer);
}

export { parseTokens };
