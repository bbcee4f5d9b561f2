// The fast path for the common kernel LOG line shapes: rsyslog's traditional
// and RFC 3339 stamps, each with or without the kernel's [uptime], and dmesg.
// It checks every field by position on the raw bytes (no string per line, no
// regular expression, no token array), then either takes the whole line or
// declines it. A declined line goes to the strict parser (parseLine), which
// accepts it or says why not. What this accepts, parseLine accepts with the
// same event and the same JSON text: test/parse-fast.test.ts holds the two
// together. Everything rarer (OPT groups, PHYSIN, UID, MARK, escapes, other
// envelopes) is declined rather than handled twice.
//
// The steps are plain functions of (bytes, position, end) that return the
// position after their field and its blank, or -1 to decline: few enough
// calls per line that their cost stays below the cost of the bytes.

import { formatIPv6, writeIPv6 } from '../net.js';
import type { KnockEvent, Proto, TcpFlagWord } from '../types.js';
import { MAX_LINE, parseLine, type ParseOptions, type ParseResult } from './index.js';
import { rfc3339, yearlessLocal } from './time.js';

const SP = 32;
const DOT = 46;
const COLON = 58;
const LBRACKET = 91;

const ascii = (s: string): Buffer => Buffer.from(s, 'latin1');
const KERNEL_TAG = ascii('kernel: ');
const IN = ascii('IN=');
const OUT = ascii('OUT=');
const MAC = ascii('MAC=');
const SRC = ascii('SRC=');
const DST = ascii('DST=');
const LEN = ascii('LEN=');
const TOS = ascii('TOS=0x');
const PREC = ascii('PREC=0x');
const TTL = ascii('TTL=');
const ID = ascii('ID=');
const CE = ascii('CE ');
const DF = ascii('DF ');
const TC = ascii('TC=');
const HOPLIMIT = ascii('HOPLIMIT=');
const FLOWLBL = ascii('FLOWLBL=');
const PROTO_TCP = ascii('PROTO=TCP ');
const PROTO_UDP = ascii('PROTO=UDP ');
const SPT = ascii('SPT=');
const DPT = ascii('DPT=');
const SEQ = ascii('SEQ=');
const ACK = ascii('ACK=');
const WINDOW = ascii('WINDOW=');
const RES = ascii('RES=0x');
const URGP = ascii('URGP=');

const word3 = (w: string) => (w.charCodeAt(0) << 16) | (w.charCodeAt(1) << 8) | w.charCodeAt(2);
const word3at = (b: Buffer, p: number) => (b[p]! << 16) | (b[p + 1]! << 8) | b[p + 2]!;
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'].map(word3);
/** Flag words in the order both printers emit them (record.ts); bit i of a mask is FLAGS[i]. */
const FLAGS: readonly TcpFlagWord[] = ['CWR', 'ECE', 'URG', 'ACK', 'PSH', 'RST', 'SYN', 'FIN'];
const FLAG_KEYS = FLAGS.map(word3);
const FLAG_WORDS: TcpFlagWord[][] = [];
/** The end of a JSON line for each mask: the flags, `}` and the newline. */
const FLAG_JSON: string[] = [];
for (let mask = 0; mask < 256; mask++) {
  const words = FLAGS.filter((_, i) => (mask & (1 << i)) !== 0);
  FLAG_WORDS.push(words);
  FLAG_JSON.push(`,"flags":${JSON.stringify(words)}}\n`);
}

const J_NULL = ascii('null');
const J_NO_TIME = ascii('{"time":null,"uptime":');
const J_FRAC_END = ascii('Z","uptime":');

const isDigit = (c: number) => c >= 48 && c <= 57;
const hexValue = (c: number) =>
  c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1;
const isLowerHex = (c: number) => (c >= 48 && c <= 57) || (c >= 97 && c <= 102);
/** Printable ASCII that JSON.stringify leaves as it is (no `"` or `\`). */
const isPlain = (c: number) => c > SP && c < 127 && c !== 34 && c !== 92;
/** Interface names as record.ts's IFACE allows them, and plain. */
const isIfaceByte = (c: number) => isPlain(c) && c !== 47 /* / */ && c !== 61; /* = */

/** The value of the last number read by field() or last(): an out-parameter, so that no object is made per field. */
let num = 0;

/** The position after `word` when it is at p, else -1. */
function lit(b: Buffer, p: number, e: number, word: Buffer): number {
  const n = word.length;
  if (p < 0 || p + n > e) return -1;
  for (let i = 0; i < n; i++) if (b[p + i] !== word[i]) return -1;
  return p + n;
}

/**
 * Digits from p: a decimal without leading zeros (record.ts's UINT), at most
 * `max`, into `num`; the position after them, or -1.
 */
function decimal(b: Buffer, p: number, e: number, max: number): number {
  if (p < 0) return -1;
  const a = p;
  const stop = Math.min(e, p + 11);
  let v = 0;
  for (; p < stop; p++) {
    const d = b[p]! - 48;
    if (d < 0 || d > 9) break;
    v = v * 10 + d;
  }
  if (p === a || p - a > 10 || (b[a] === 48 && p - a > 1) || v > max) return -1;
  num = v;
  return p;
}

/** `KEY=` (the key given with its `=`), a decimal at most `max` (into `num`), and a blank. */
function field(b: Buffer, p: number, e: number, key: Buffer, max: number): number {
  p = decimal(b, lit(b, p, e, key), e, max);
  return p >= 0 && p < e && b[p] === SP ? p + 1 : -1;
}

/** The last field of a record: its key and value end the line, with or without the kernel's final blank. */
function last(b: Buffer, p: number, e: number, key: Buffer, max: number): boolean {
  p = lit(b, p, e, key);
  if (p < 0) return false;
  p = decimal(b, p, e, max);
  return p === e || (p >= 0 && p + 1 === e && b[p] === SP);
}

/** `KEY=0x` and two hex digits (record.ts's HEXBYTE_0X), and a blank. */
function hexByte(b: Buffer, p: number, e: number, key: Buffer): number {
  p = lit(b, p, e, key);
  if (p < 0 || p + 3 > e) return -1;
  return hexValue(b[p]!) >= 0 && hexValue(b[p + 1]!) >= 0 && b[p + 2] === SP ? p + 3 : -1;
}

/** An interface name (record.ts's IFACE, and plain) and its blank. */
function iface(b: Buffer, p: number, e: number): number {
  if (p < 0) return -1;
  const a = p;
  while (p < e && p - a <= 15 && isIfaceByte(b[p]!)) p++;
  return p - a <= 15 && p < e && b[p] === SP ? p + 1 : -1;
}

/** A MAC header dump (record.ts's MAC: lowercase hex pairs joined by ':', maybe none) and its blank. */
function mac(b: Buffer, p: number, e: number): number {
  if (p < e && b[p] !== SP) {
    for (;;) {
      if (p + 2 > e || !isLowerHex(b[p]!) || !isLowerHex(b[p + 1]!)) return -1;
      p += 2;
      if (p >= e || b[p] !== COLON) break;
      p++;
    }
  }
  return p < e && b[p] === SP ? p + 1 : -1;
}

/** A dotted quad without leading zeros (net.ts's IPV4, its own canonical form) and its blank. */
function ipv4(b: Buffer, p: number, e: number): number {
  if (p < 0) return -1;
  for (let i = 0; i < 4; i++) {
    p = decimal(b, p, e, 255);
    if (p < 0 || p >= e || b[p] !== (i < 3 ? DOT : SP)) return -1;
    p++;
  }
  return p;
}

/** The kernel's IPv6 form, eight groups of four hex digits, into `groups`; and its blank. */
function ipv6(b: Buffer, p: number, e: number, groups: number[]): number {
  if (p < 0 || p + 40 > e) return -1;
  for (let i = 0; i < 8; i++, p += 5) {
    const g = (hexValue(b[p]!) << 12) | (hexValue(b[p + 1]!) << 8) | (hexValue(b[p + 2]!) << 4) | hexValue(b[p + 3]!);
    // A -1 digit sets the sign bit.
    if (g < 0 || b[p + 4] !== (i < 7 ? COLON : SP)) return -1;
    groups[i] = g;
  }
  return p;
}

/** The text of a field, reused while the field's bytes repeat from line to line (host, interface, own address). */
class Text {
  private bytes = Buffer.alloc(0);
  private text = '';

  of(b: Buffer, a: number, z: number): string {
    const last = this.bytes;
    const n = z - a;
    let i = 0;
    if (last.length === n) while (i < n && last[i] === b[a + i]) i++;
    if (i !== n || last.length !== n) {
      this.bytes = Buffer.from(b.subarray(a, z));
      this.text = this.bytes.toString('latin1');
    }
    return this.text;
  }
}

const POW10 = [1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9];

/**
 * A run of JSON around fields that mostly repeat from line to line, made anew
 * only when their bytes change: one copy of the run, instead of a copy for
 * each of its pieces.
 */
class Run {
  /** The bytes it was made for: the first field, a 0 (no field holds one), the second field, a tag. */
  private key = Buffer.alloc(0);
  json: Buffer = Buffer.alloc(0);

  /** Whether b[a1, z1), b[a2, z2) and `tag` are what `json` was made for; if not, they are now (set `json`). */
  same(b: Buffer, a1: number, z1: number, a2: number, z2: number, tag: number): boolean {
    const k = this.key;
    const n1 = z1 - a1;
    const n2 = z2 - a2;
    if (k.length === n1 + n2 + 2 && k[n1] === 0 && k[n1 + n2 + 1] === tag) {
      let i = 0;
      while (i < n1 && k[i] === b[a1 + i]) i++;
      let j = 0;
      while (j < n2 && k[n1 + 1 + j] === b[a2 + j]) j++;
      if (i === n1 && j === n2) return true;
    }
    const key = Buffer.alloc(n1 + n2 + 2);
    b.copy(key, 0, a1, z1);
    b.copy(key, n1 + 1, a2, z2);
    key[n1 + n2 + 1] = tag;
    this.key = key;
    return false;
  }
}

/** A converted time stamp (the second; the fraction is kept as written, see time.ts). */
interface Stamp {
  key: number;
  zone: number;
  /** `YYYY-MM-DDTHH:MM:SS`, and the whole time without a fraction */
  base: string;
  text: string;
  /** The JSON up to the uptime's value: without a fraction, and up to the fraction. */
  head: Buffer;
  headFrac: Buffer;
}

function stampOf(key: number, zone: number, iso: string): Stamp {
  // The conversion of a stamp without a fraction ends in Z.
  const base = iso.slice(0, -1);
  return {
    key,
    zone,
    base,
    text: iso,
    head: ascii(`{"time":"${base}Z","uptime":`),
    headFrac: ascii(`{"time":"${base}.`),
  };
}

/** Two digits' value, then the byte `then` (none when -1); -1 when not. */
function digits2(b: Buffer, p: number, e: number, then: number): number {
  if (p + (then === -1 ? 2 : 3) > e) return -1;
  const d0 = b[p]! - 48;
  const d1 = b[p + 1]! - 48;
  if (d0 < 0 || d0 > 9 || d1 < 0 || d1 > 9 || (then !== -1 && b[p + 2] !== then)) return -1;
  return d0 * 10 + d1;
}

/** `.fraction` (1 to 9 digits) when one is at p: its end, else p; -1 when malformed. */
function fraction(b: Buffer, p: number, e: number): number {
  if (p >= e || b[p] !== DOT) return p;
  const a = ++p;
  while (p < e && p - a < 10 && isDigit(b[p]!)) p++;
  return p === a || p - a > 9 ? -1 : p;
}

export class FastLine {
  private readonly prefixBytes: Buffer;
  private readonly prefixJson: Buffer;
  /** `,"host":HOST,"prefix":PREFIX,"in":"IN","src":"` */
  private readonly hostIn = new Run();
  /** `","dst":"DST","proto":"PROTO","spt":`, by family and protocol (lines alternate between them). */
  private readonly dstProto = [new Run(), new Run(), new Run(), new Run()];
  /** `,"dpt":DPT,"flags":[FLAGS]}\n` by DPT * 256 + FLAGS: a handful of knock ports and flag sets. */
  private readonly tails = new Map<number, Buffer>();
  /** Conversions are valid for one `now` only (a year-less stamp takes its year from it). */
  private nowMs = NaN;
  private lastBsd: Stamp | null = null;
  private lastIso: Stamp | null = null;
  /** The groups of IPv6 addresses (canonical text made only when printed). */
  private readonly src6 = [0, 0, 0, 0, 0, 0, 0, 0];
  private readonly dst6 = [0, 0, 0, 0, 0, 0, 0, 0];
  private readonly hostText = new Text();
  private readonly inText = new Text();
  private readonly dstText = new Text();

  // The line of the last scan, and where its fields are: [xA, xZ) byte ranges.
  private b: Buffer = Buffer.alloc(0);
  private a = 0;
  private e = 0;
  private stamp: Stamp | null = null;
  /** Time fraction digits; fracA === fracZ when none. */
  private fracA = 0;
  private fracZ = 0;
  /** Uptime digits, upA -1 when none; JSON prints from upIntA (no leading zeros) to upFracZ (no trailing ones). */
  private upA = -1;
  private upIntA = 0;
  private upDot = 0;
  private upFracZ = 0;
  private hostA = -1;
  private hostZ = 0;
  private inA = 0;
  private inZ = 0;
  private srcA = 0;
  private srcZ = 0;
  private dstA = 0;
  private dstZ = 0;
  private v6 = false;
  private tcp = false;
  private sptA = 0;
  private spt = 0;
  private dpt = 0;
  private flags = 0;

  /** `prefix`: trimmed at its end, as parseLine does; ASCII only (see fastLineFor). */
  constructor(readonly prefix: string) {
    this.prefixBytes = ascii(prefix);
    this.prefixJson = ascii(JSON.stringify(prefix));
  }

  /**
   * Whether the bytes b[start, end) (one line, without its newline or CR)
   * are a knock record of a common shape. When true, json() and event()
   * give it; when false, the strict parser must decide.
   */
  scan(b: Buffer, start: number, end: number, now: Date): boolean {
    if (end - start > MAX_LINE) return false;
    this.b = b;
    this.a = start;
    this.e = end;
    const ms = now.getTime();
    if (ms !== this.nowMs) {
      this.nowMs = ms;
      this.lastBsd = null;
      this.lastIso = null;
    }
    const c = end > start ? b[start]! : -1;
    let p: number;
    if (c === LBRACKET) {
      // dmesg: the uptime stamp is the whole envelope.
      this.stamp = null;
      this.hostA = -1;
      p = this.uptime(b, start, end);
    } else {
      p = isDigit(c) ? this.isoStamp(b, start, end) : this.bsdStamp(b, start, end, now);
      p = this.afterStamp(b, p, end);
    }
    if (p < 0) return false;
    // index.ts's fromMessage: the prefix, blanks, IN=.
    p = lit(b, p, end, this.prefixBytes);
    if (p < 0) return false;
    while (p < end && b[p] === SP) p++;
    return this.record(b, lit(b, p, end, IN), end);
  }

  /** The JSON line of the last accepted scan, as eventJson prints it, into `sink`. */
  json(sink: { room(n: number): Buffer; commit(length: number): void; readonly length: number }): void {
    const b = this.b;
    // The variable parts come from the line (IPv6 addresses only shrink); the rest is bounded.
    const o = sink.room(this.e - this.a + 320 + this.prefixJson.length);
    // Runs of constant text go in with one native copy each; byte loops are for the short fields.
    let p = sink.length;
    const s = this.stamp;
    if (s === null) p = put(o, p, J_NO_TIME);
    else if (this.fracZ === this.fracA) p = put(o, p, s.head);
    else {
      p = put(o, p, s.headFrac);
      p = copy(o, p, b, this.fracA, this.fracZ);
      p = put(o, p, J_FRAC_END);
    }
    if (this.upA < 0) p = put(o, p, J_NULL);
    else {
      p = copy(o, p, b, this.upIntA, this.upDot);
      if (this.upFracZ > this.upDot + 1) p = copy(o, p, b, this.upDot, this.upFracZ);
    }
    p = put(o, p, this.hostInJson());
    p = this.v6 ? writeIPv6(this.src6, o, p) : copy(o, p, b, this.srcA, this.srcZ);
    p = put(o, p, this.dstProtoJson());
    p = copy(o, p, b, this.sptA, this.sptA + digitCount(this.spt));
    p = put(o, p, this.tailJson());
    sink.commit(p);
  }

  /** The event of the last accepted scan. */
  event(): KnockEvent {
    const b = this.b;
    const s = this.stamp;
    const proto: Proto = this.tcp ? 'tcp' : 'udp';
    let time: string | null = null;
    if (s !== null) {
      time = this.fracZ > this.fracA ? `${s.base}.${b.toString('latin1', this.fracA, this.fracZ)}Z` : s.text;
    }
    return {
      time,
      uptime: this.upA < 0 ? null : this.uptimeValue(),
      host: this.hostA < 0 ? null : this.hostText.of(b, this.hostA, this.hostZ),
      prefix: this.prefix,
      in: this.inText.of(b, this.inA, this.inZ),
      src: this.v6 ? formatIPv6(this.src6) : b.toString('latin1', this.srcA, this.srcZ),
      dst: this.v6 ? formatIPv6(this.dst6) : this.dstText.of(b, this.dstA, this.dstZ),
      proto,
      spt: this.spt,
      dpt: this.dpt,
      flags: FLAG_WORDS[this.flags]!.slice(),
    };
  }

  /**
   * Number() of the uptime's digits, without a string: at most 15 significant
   * digits (uptime() sees to it) make an integer that a double holds exactly,
   * and dividing it by an exact power of ten rounds once, as Number() does.
   */
  private uptimeValue(): number {
    const b = this.b;
    let m = 0;
    for (let i = this.upIntA; i < this.upDot; i++) m = m * 10 + b[i]! - 48;
    for (let i = this.upDot + 1; i < this.upFracZ; i++) m = m * 10 + b[i]! - 48;
    return m / POW10[this.upFracZ - this.upDot - 1]!;
  }

  // The runs of JSON between the fields that change with every line.

  private hostInJson(): Buffer {
    const run = this.hostIn;
    const host = this.hostA;
    if (!run.same(this.b, Math.max(host , 0), host < 0 ? 0 : this.hostZ, this.inA, this.inZ, host < 0 ? 0 : 1)) {
      const text = host < 0 ? 'null' : `"${this.b.toString('latin1', host, this.hostZ)}"`;
      const prefix = this.prefixJson.toString('latin1');
      const inName = this.b.toString('latin1', this.inA, this.inZ);
      run.json = ascii(`,"host":${text},"prefix":${prefix},"in":"${inName}","src":"`);
    }
    return run.json;
  }

  private dstProtoJson(): Buffer {
    const run = this.dstProto[(this.v6 ? 2 : 0) + (this.tcp ? 1 : 0)]!;
    if (!run.same(this.b, this.dstA, this.dstZ, 0, 0, 0)) {
      const dst = this.v6 ? formatIPv6(this.dst6) : this.b.toString('latin1', this.dstA, this.dstZ);
      run.json = ascii(`","dst":"${dst}","proto":"${this.tcp ? 'tcp' : 'udp'}","spt":`);
    }
    return run.json;
  }

  private tailJson(): Buffer {
    const key = this.dpt * 256 + this.flags;
    let json = this.tails.get(key);
    if (json === undefined) {
      // Bounded: a scan of every port makes a new tail per line, and must not keep them all.
      if (this.tails.size >= 1024) this.tails.clear();
      json = ascii(`,"dpt":${this.dpt}${FLAG_JSON[this.flags]!}`);
      this.tails.set(key, json);
    }
    return json;
  }

  /** `Mmm dd hh:mm:ss[.f] ` (envelope.ts's BSD, English months only). */
  private bsdStamp(b: Buffer, p: number, e: number, now: Date): number {
    if (p + 15 > e) return -1;
    const w = word3at(b, p);
    const month = MONTHS.indexOf(w);
    if (month < 0 || b[p + 3] !== SP) return -1;
    p += 4;
    if (b[p] === SP) p++;
    if (!isDigit(b[p]!)) return -1;
    let day = b[p++]! - 48;
    if (isDigit(b[p]!)) day = day * 10 + b[p++]! - 48;
    if (b[p] !== SP) return -1;
    const h = digits2(b, p + 1, e, COLON);
    const mi = digits2(b, p + 4, e, COLON);
    const sec = digits2(b, p + 7, e, -1);
    if (h < 0 || mi < 0 || sec < 0) return -1;
    const z = fraction(b, p + 9, e);
    if (z < 0 || z >= e || b[z] !== SP) return -1;
    this.fracA = z === p + 9 ? 0 : p + 10;
    this.fracZ = z === p + 9 ? 0 : z;
    // Every field below 100: no two stamps share a key (yearlessLocal rejects hour 24, day 0...).
    const key = (((month * 100 + day) * 100 + h) * 100 + mi) * 100 + sec;
    let s = this.lastBsd;
    if (s === null || s.key !== key) {
      const t = yearlessLocal(month, day, h, mi, sec, '', now);
      if (t === null) return -1;
      this.lastBsd = s = stampOf(key, 0, t);
    }
    this.stamp = s;
    return z + 1;
  }

  /** `YYYY-MM-DDThh:mm:ss[.f](Z|+hh:mm|+hhmm) ` (envelope.ts's ISO). */
  private isoStamp(b: Buffer, p: number, e: number): number {
    const a = p;
    const y0 = digits2(b, p, e, -1);
    const y1 = digits2(b, p + 2, e, 45 /* - */);
    const mo = digits2(b, p + 5, e, 45);
    const d = digits2(b, p + 8, e, 84 /* T */);
    const h = digits2(b, p + 11, e, COLON);
    const mi = digits2(b, p + 14, e, COLON);
    const sec = digits2(b, p + 17, e, -1);
    if (y0 < 0 || y1 < 0 || mo < 0 || d < 0 || h < 0 || mi < 0 || sec < 0) return -1;
    const secondEnd = p + 19;
    const zoneA = fraction(b, secondEnd, e);
    if (zoneA < 0 || zoneA >= e) return -1;
    this.fracA = zoneA === secondEnd ? 0 : secondEnd + 1;
    this.fracZ = zoneA === secondEnd ? 0 : zoneA;
    p = zoneA;
    let zone: number;
    if (b[p] === 90 /* Z */) {
      zone = 10000;
      p++;
    } else {
      const sign = b[p] === 43 /* + */ ? 1 : b[p] === 45 ? -1 : 0;
      const zh = digits2(b, p + 1, e, -1);
      if (sign === 0 || zh < 0) return -1;
      p += 3;
      if (p < e && b[p] === COLON) p++;
      const zm = digits2(b, p, e, -1);
      if (zm < 0) return -1;
      zone = sign * (zh * 100 + zm);
      p += 2;
    }
    if (p >= e || b[p] !== SP) return -1;
    // Every field below 100: no two stamps share a key.
    const key = (((((y0 * 100 + y1) * 100 + mo) * 100 + d) * 100 + h) * 100 + mi) * 100 + sec;
    let s = this.lastIso;
    if (s === null || s.key !== key || s.zone !== zone) {
      // The stamp without its fraction: the fraction is printed as written.
      const t = rfc3339(b.toString('latin1', a, secondEnd) + b.toString('latin1', zoneA, p));
      if (t === null) return -1;
      this.lastIso = s = stampOf(key, zone, t);
    }
    this.stamp = s;
    return p + 1;
  }

  /** After the stamp: `kernel: ` or `HOST kernel: `, then an optional `[uptime] `. */
  private afterStamp(b: Buffer, p: number, e: number): number {
    if (p < 0) return -1;
    if (lit(b, p, e, KERNEL_TAG) < 0) {
      const a = p;
      while (p < e && isPlain(b[p]!)) p++;
      if (p === a || p >= e || b[p] !== SP) return -1;
      this.hostA = a;
      this.hostZ = p;
      p++;
    } else this.hostA = -1;
    p = lit(b, p, e, KERNEL_TAG);
    this.upA = -1;
    if (p < 0 || p >= e || b[p] !== LBRACKET) return p;
    const q = this.uptime(b, p, e);
    // Not an uptime stamp: the message itself starts with '['.
    return q === -1 ? p : q;
  }

  /**
   * `[ *uptime(@cpu)?] ` (envelope.ts's UPTIME): the position after it; -1
   * when it is not one; -2 when it is one that JSON prints otherwise than its
   * digits (no integer part, or more than 15 significant digits).
   */
  private uptime(b: Buffer, p: number, e: number): number {
    p++;
    while (p < e && b[p] === SP) p++;
    const a = p;
    while (p < e && isDigit(b[p]!)) p++;
    const dot = p;
    if (dot === a || dot - a > 10 || p >= e || b[p] !== DOT) return -1;
    let last = ++p;
    while (p < e && isDigit(b[p]!)) if (b[p++] !== 48) last = p;
    if (p === dot + 1 || p - dot > 10) return -1;
    if (p < e && b[p] === 64 /* @ */) {
      const c = ++p;
      while (p < e && isDigit(b[p]!)) p++;
      if (p === c || p - c > 4) return -1;
    }
    if (p + 2 > e || b[p] !== 93 /* ] */ || b[p + 1] !== SP) return -1;
    let int = a;
    while (int < dot && b[int] === 48) int++;
    if (int === dot || dot - int + (last - dot - 1) > 15) return -2;
    this.upA = a;
    this.upIntA = int;
    this.upDot = dot;
    this.upFracZ = last;
    return p + 2;
  }

  /** From the value of `IN=` to the end of the line: record.ts's parseTokens for the kernel printer. */
  private record(b: Buffer, p: number, e: number): boolean {
    this.inA = p;
    p = iface(b, p, e);
    this.inZ = p - 1;
    p = iface(b, lit(b, p, e, OUT), e);
    if (p < 0) return false;
    if (lit(b, p, e, MAC) >= 0) p = mac(b, p + 4, e);
    p = lit(b, p, e, SRC);
    const v6 = p >= 0 && p + 4 < e && b[p + 4] === COLON;
    this.v6 = v6;
    this.srcA = p;
    p = v6 ? ipv6(b, p, e, this.src6) : ipv4(b, p, e);
    this.srcZ = p - 1;
    p = lit(b, p, e, DST);
    this.dstA = p;
    p = v6 ? ipv6(b, p, e, this.dst6) : ipv4(b, p, e);
    this.dstZ = p - 1;
    if (v6) {
      p = field(b, p, e, LEN, 4294967295);
      p = field(b, p, e, TC, 255);
      p = field(b, p, e, HOPLIMIT, 255);
      p = field(b, p, e, FLOWLBL, 0xfffff);
    } else {
      p = hexByte(b, hexByte(b, field(b, p, e, LEN, 65535), e, TOS), e, PREC);
      p = field(b, field(b, p, e, TTL, 255), e, ID, 65535);
      if (lit(b, p, e, CE) >= 0) p += 3;
      if (lit(b, p, e, DF) >= 0) p += 3;
    }
    const tcp = lit(b, p, e, PROTO_TCP);
    this.tcp = tcp >= 0;
    p = tcp >= 0 ? tcp : lit(b, p, e, PROTO_UDP);
    this.sptA = p + 4;
    p = field(b, p, e, SPT, 65535);
    this.spt = num;
    p = field(b, p, e, DPT, 65535);
    this.dpt = num;
    if (p < 0) return false;
    if (tcp < 0) {
      this.flags = 0;
      return last(b, p, e, LEN, 65535);
    }
    if (lit(b, p, e, SEQ) >= 0) p = field(b, field(b, p, e, SEQ, 4294967295), e, ACK, 4294967295);
    p = hexByte(b, field(b, p, e, WINDOW, 65535), e, RES);
    if (p < 0) return false;
    let flags = 0;
    for (let next = 0; p + 4 <= e && b[p + 3] === SP; p += 4) {
      const at = FLAG_KEYS.indexOf(word3at(b, p));
      if (at < 0) break;
      // A repeated or misplaced flag: the strict parser rejects it.
      if (at < next) return false;
      flags |= 1 << at;
      next = at + 1;
    }
    this.flags = flags;
    return last(b, p, e, URGP, 65535);
  }
}

/** How many digits the decimal n has. */
function digitCount(n: number): number {
  return n < 10 ? 1 : n < 100 ? 2 : n < 1000 ? 3 : n < 10000 ? 4 : 5;
}

function put(o: Buffer, p: number, src: Buffer): number {
  o.set(src, p);
  return p + src.length;
}

function copy(o: Buffer, p: number, b: Buffer, a: number, z: number): number {
  for (let i = a; i < z; i++) o[p++] = b[i]!;
  return p;
}

let shared: FastLine | null = null;

/**
 * The fast path for a kernel source's lines (formats `kernel` and `auto`)
 * with an ASCII prefix; null when every line must go to the strict parser.
 * One instance per prefix, so that its converted stamps are reused.
 */
export function fastLineFor(opts: ParseOptions): FastLine | null {
  if (opts.format !== 'kernel' && opts.format !== 'auto') return null;
  const prefix = opts.prefix.trimEnd();
  if (shared?.prefix === prefix) return shared;
  // eslint-disable-next-line no-control-regex
  if (!/^[\x00-\x7f]*$/.test(prefix)) return null;
  shared = new FastLine(prefix);
  return shared;
}

/** Room for any line that parseLine does not refuse for its length alone, as UTF-8. */
const scratch = Buffer.allocUnsafeSlow(3 * MAX_LINE);

/** parseLine, through the fast path where it applies: the same results. */
export function parseLineFast(line: string, opts: ParseOptions): ParseResult {
  const fast = line.length <= MAX_LINE ? fastLineFor(opts) : null;
  // Most lines are other messages: those go straight to parseLine, which rejects them at once.
  if (fast === null || !line.includes(fast.prefix)) return parseLine(line, opts);
  // UTF-8, not latin1: any other character becomes bytes the fast path declines.
  if (fast.scan(scratch, 0, scratch.write(line, 'utf8'), opts.now)) return { ok: true, event: fast.event() };
  return parseLine(line, opts);
}
