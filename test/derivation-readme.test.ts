// The README's derivation of time-based sequences ("Time-based doors" and
// "Per-user secrets and address-bound sequences"), implemented again here from
// the README's text alone, without src/: it must agree with what
// `knocklog check --show-sequences` prints, for an unbound and a bound door.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const CLI = fileURLToPath(new URL('../src/cli.js', import.meta.url));

interface Door {
  low: number;
  high: number;
  exclude: number[];
  length: number;
}

/** RFC 4648 base32, as `base32` of coreutils writes it. */
function base32(bytes: Buffer): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  let bits = '';
  for (const b of bytes) bits += b.toString(2).padStart(8, '0');
  let out = '';
  for (let i = 0; i < bits.length; i += 5) out += alphabet[parseInt(bits.slice(i, i + 5).padEnd(5, '0'), 2)];
  return out;
}

const be = (n: number, bytes: number): Buffer => {
  const b = Buffer.alloc(bytes);
  if (bytes === 8) b.writeBigUInt64BE(BigInt(n));
  else b.writeUInt32BE(n);
  return b;
};

/** "the remainder k naming the k-th usable port in ascending order (0: the lowest)". */
function usable(d: Door): number[] {
  const out: number[] = [];
  for (let p = d.low; p <= d.high; p++) if (!d.exclude.includes(p)) out.push(p);
  return out;
}

/** Draws from the chunks of HMAC-SHA256(secret, message(i)) for i = 0, 1, ... until `ports` holds `length`. */
function drawInto(ports: number[], d: Door, secret: Buffer, message: (i: number) => Buffer, length: number): void {
  const u = usable(d);
  for (let i = 0; ports.length < length; i++) {
    const mac = createHmac('sha256', secret).update(message(i)).digest();
    for (let off = 0; off < 32 && ports.length < length; off += 4) {
      const port = u[mac.readUInt32BE(off) % u.length]!;
      if (!ports.includes(port)) ports.push(port);
    }
  }
}

/** "HMAC-SHA256(secret, N as 8 bytes big-endian), then of HMAC-SHA256(secret, N || i as 4 bytes big-endian)" */
function unbound(d: Door, secret: Buffer, n: number): number[] {
  const ports: number[] = [];
  drawInto(ports, d, secret, (i) => (i === 0 ? be(n, 8) : Buffer.concat([be(n, 8), be(i, 4)])), d.length);
  return ports;
}

/** IPv4 as 4 bytes; IPv6 (full or with one `::`) as 16, network byte order. */
function addressBytes(a: string): Buffer {
  if (!a.includes(':')) return Buffer.from(a.split('.').map(Number));
  const [head, tail] = a.split('::') as [string, string | undefined];
  const h = head === '' ? [] : head.split(':');
  const t = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  return Buffer.concat(groups.map((g) => {
    const b = Buffer.alloc(2);
    b.writeUInt16BE(parseInt(g, 16));
    return b;
  }));
}

/** Port 1 from the unbound sequence; then HMAC-SHA256(secret, N || F || A || i) for i = 0, 1, ... */
function bound(d: Door, secret: Buffer, n: number, address: string): number[] {
  const ports = [unbound({ ...d, length: 1 }, secret, n)[0]!];
  const family = Buffer.from([address.includes(':') ? 6 : 4]);
  drawInto(ports, d, secret, (i) => Buffer.concat([be(n, 8), family, addressBytes(address), be(i, 4)]), d.length);
  return ports;
}

/** `check --show-sequences` of a config: the sequences it prints by door, [step, ports] of previous, current, next. */
function shown(conf: string, extra: string[]): Map<string, [number, number[]][]> {
  const r = spawnSync(process.execPath, [CLI, 'check', '--show-sequences', '-c', conf, ...extra], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const out = new Map<string, [number, number[]][]>();
  let door = '';
  for (const line of r.stdout.split('\n')) {
    const section = /^\[(\S+)\]/.exec(line);
    if (section !== null) door = section[1]!;
    const m = /^ {2}(?:previous|current|next) +(\S+) {2}\(step (\d+), from /.exec(line);
    if (m === null) continue;
    const ports = m[1]!.split(',').map((p) => Number(p.replace(/:tcp$/, '')));
    out.set(door, [...(out.get(door) ?? []), [Number(m[2]), ports]]);
  }
  return out;
}

/** A door section with `secret` lines and the range, exclusions and length of `d`. */
function section(name: string, secret: string, d: Door): string {
  return `[${name}]\n  ${secret}\n  sequence_ports = ${d.low}-${d.high}\n  sequence_exclude = ${d.exclude.join(',')}\n`
    + `  sequence_length = ${d.length}\n`;
}

test('the README\'s derivation, implemented from it alone, agrees with check --show-sequences (unbound, bound)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'knocklog-readme-'));
  try {
    const alice = Buffer.from('alice: a secret of 32 bytes.....');
    const shared = Buffer.from('the door secret of twenty bytes');
    mkdirSync(join(dir, 'users'), { mode: 0o700 });
    writeFileSync(join(dir, 'users', 'alice'), `${base32(alice)}\n`, { mode: 0o600 });
    writeFileSync(join(dir, 'users', 'bob'), `${base32(Buffer.from('bob: another secret, 26 b.'))}\n`, { mode: 0o600 });
    writeFileSync(join(dir, 'shared.secret'), `${base32(shared)}\n`, { mode: 0o600 });
    // A narrow range with excluded ports and a long sequence: ports repeat, and more than one HMAC block is needed.
    const narrow: Door = { low: 30000, high: 30011, exclude: [30001, 30004, 30005], length: 8 };
    const wide: Door = { low: 20000, high: 29999, exclude: [22000], length: 4 };
    const narrowBound: Door = { ...narrow, low: 40000, high: 40011, exclude: [40001, 40004, 40005] };
    const conf = join(dir, 'knockd.conf');
    writeFileSync(conf, section('shared', 'sequence_secret_file = shared.secret', narrow)
      + section('bound', 'sequence_secret_dir = users\n  sequence_bind = address', wide)
      + section('narrowbound', 'sequence_secret_dir = users\n  sequence_bind = address', narrowBound));
    for (const address of ['192.0.2.7', '2001:db8::42', 'fd6b:6c:1::2']) {
      const seen = shown(conf, ['--user', 'alice', '--bind', address]);
      const steps = seen.get('shared') ?? [];
      assert.equal(steps.length, 3, `shared: ${JSON.stringify([...seen])}`);
      for (const [n, ports] of steps) assert.deepEqual(ports, unbound(narrow, shared, n), `shared, step ${n}`);
      for (const [name, d] of [['bound', wide], ['narrowbound', narrowBound]] as const) {
        const b = seen.get(name) ?? [];
        assert.equal(b.length, 3, name);
        for (const [n, ports] of b) {
          assert.deepEqual(ports, bound(d, alice, n, address), `${name}, step ${n}, ${address}`);
        }
      }
    }
    // The same user's unbound sequence is what her bound one starts with, and nothing more.
    const unboundConf = join(dir, 'unbound.conf');
    writeFileSync(unboundConf, section('peruser', 'sequence_secret_dir = users', wide));
    const perUser = shown(unboundConf, ['--user', 'alice']).get('peruser') ?? [];
    assert.equal(perUser.length, 3);
    for (const [n, ports] of perUser) {
      assert.deepEqual(ports, unbound(wide, alice, n), `per user, step ${n}`);
      assert.equal(ports[0], bound(wide, alice, n, '192.0.2.7')[0]);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
