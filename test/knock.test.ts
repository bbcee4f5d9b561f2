import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import dgram from 'node:dgram';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import net from 'node:net';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadConfig } from '../src/config/index.js';
import { KnockUsageError, parseHit, parseServices, resolvePort, type Services } from '../src/knock/index.js';
import { likelyNated } from '../src/knock/bind.js';
import { decodeBase32, deriveBoundSequence, deriveSequence, encodeBase32, timeStep } from '../src/totp/index.js';
import type { TimedSequence } from '../src/types.js';
import { timedOf } from './helpers/doors.js';

const CLI = fileURLToPath(new URL('../src/cli.js', import.meta.url));

interface Run {
  status: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI without blocking this process's event loop (its listeners must keep receiving). */
function knock(...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, 'knock', ...args], { encoding: 'utf8' }, (e, stdout, stderr) => {
      resolve({ status: e === null ? 0 : Number((e as { code?: number }).code), stdout, stderr });
    });
  });
}

/** Resolves once `cond()` holds; fails after a generous timeout. */
async function until(cond: () => boolean, what: string, timeoutMs = 10000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

const SAMPLE = `
# comment line
ssh		22/tcp				# SSH Remote Login Protocol
domain		53/tcp
domain		53/udp
http		80/tcp		www		# WorldWideWeb HTTP
knockme		17000/udp	kn kn2
knockme		17001/udp	# a second line for a name: the first wins
broken		99999/tcp
nonsense
`;

test('services(5): names and aliases per protocol, comments, the first line wins, bad lines skipped', () => {
  const s = parseServices(SAMPLE);
  const get = (spec: string, proto: 'tcp' | 'udp') => resolvePort(spec, proto, () => s);
  assert.equal(get('ssh', 'tcp'), 22);
  assert.equal(get('ssh', 'udp'), null);
  assert.equal(get('domain', 'udp'), 53);
  assert.equal(get('www', 'tcp'), 80);
  assert.equal(get('kn2', 'udp'), 17000);
  assert.equal(get('knockme', 'udp'), 17000);
  assert.equal(get('broken', 'tcp'), null);
  assert.equal(get('7000', 'tcp'), 7000);
  for (const bad of ['0', '65536', '70000', 'abc', '', '-1', '1e3']) assert.equal(get(bad, 'tcp'), null, bad);
});

test("this machine's /etc/services maps ssh to 22",
  { skip: existsSync('/etc/services') ? false : 'no /etc/services' }, () => {
  const s = parseServices(readFileSync('/etc/services', 'utf8'));
  assert.equal(resolvePort('ssh', 'tcp', () => s), 22);
});

test('PORT[:PROTO]: protocol in any case, -u makes every hit UDP, names need no file for numbers', () => {
  const none = (): Services => assert.fail('numeric ports must not read the services file');
  assert.deepEqual(parseHit('7000', false, none), { proto: 'tcp', port: 7000 });
  assert.deepEqual(parseHit('8000:UDP', false, none), { proto: 'udp', port: 8000 });
  assert.deepEqual(parseHit('8000:Tcp', true, none), { proto: 'udp', port: 8000 });
  const s = parseServices(SAMPLE);
  assert.deepEqual(parseHit('domain:udp', false, () => s), { proto: 'udp', port: 53 });
  const bad: [string, RegExp][] = [
    ['70000', /"70000" is not a tcp port \(use a number from 1 to 65535 or a tcp service name from \/etc\/services\)/],
    ['ssh:udp', /"ssh" is not a udp port/],
    ['7000:icmp', /unknown protocol "icmp" in "7000:icmp" \(use tcp or udp\)/],
    ['1:2:3', /more than one ":"/],
  ];
  for (const [arg, message] of bad) assert.throws(() => parseHit(arg, false, () => s),
    (e: Error) => e instanceof KnockUsageError && message.test(e.message));
});

/** UDP sockets on free loopback ports; `got` lists the ports datagrams arrived on, with their lengths. */
async function udpListeners(host: string, n: number) {
  const got: { port: number; bytes: number }[] = [];
  const socks = await Promise.all(Array.from({ length: n }, async () => {
    const s = dgram.createSocket(host.includes(':') ? 'udp6' : 'udp4');
    s.bind(0, host);
    await once(s, 'listening');
    s.on('message', (m) => got.push({ port: s.address().port, bytes: m.length }));
    return s;
  }));
  return { ports: socks.map((s) => s.address().port), got, close: () => { for (const s of socks) s.close(); } };
}

/** TCP servers on free loopback ports; `seen` lists the ports connections arrived on. */
async function tcpListeners(host: string, n: number) {
  const seen: number[] = [];
  const servers = await Promise.all(Array.from({ length: n }, async () => {
    const srv = net.createServer((c) => {
      seen.push((srv.address() as net.AddressInfo).port);
      c.destroy();
    });
    srv.listen(0, host);
    await once(srv, 'listening');
    return srv;
  }));
  return {
    ports: servers.map((s) => (s.address() as net.AddressInfo).port), seen,
    close: () => { for (const s of servers) s.close(); }
  };
}

test('UDP hits: one 1-byte datagram each, in order (-d spaces them), with :UDP or -u', async () => {
  const l = await udpListeners('127.0.0.1', 3);
  try {
    const [a, b, c] = l.ports.map(String) as [string, string, string];
    const r = await knock('-v', '-d', '100', '127.0.0.1', `${a}:udp`, `${b}:UDP`, `${c}:Udp`, `${a}:udp`);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, [a, b, c, a].map((p) => `hitting udp 127.0.0.1:${p}\n`).join(''));
    await until(() => l.got.length === 4, '4 datagrams');
    assert.deepEqual(l.got, [a, b, c, a].map((p) => ({ port: Number(p), bytes: 1 })));
    const u = await knock('-u', '127.0.0.1', b);
    assert.equal(u.status, 0, u.stderr);
    await until(() => l.got.length === 5, 'the -u datagram');
    assert.deepEqual(l.got[4], { port: Number(b), bytes: 1 });
  } finally {
    l.close();
  }
});

for (const [host, family] of [['127.0.0.1', '-4'], ['::1', '-6']] as const) {
  test(`TCP hits on ${host}: one connection attempt each, in order with -d`, async (t) => {
    let l: Awaited<ReturnType<typeof tcpListeners>>;
    try {
      l = await tcpListeners(host, 3);
    } catch (e) {
      if (host === '::1') return t.skip(`no IPv6 loopback: ${(e as Error).message}`);
      throw e;
    }
    try {
      const [a, b, c] = l.ports.map(String) as [string, string, string];
      const r = await knock(family, '-d', '100', host, a, `${b}:tcp`, `${c}:TCP`, a);
      assert.equal(r.status, 0, r.stderr);
      await until(() => l.seen.length === 4, '4 connections');
      assert.deepEqual(l.seen, [a, b, c, a].map(Number));
    } finally {
      l.close();
    }
  });
}

test('a service name from /etc/services is knocked on its port', async (t) => {
  if (!existsSync('/etc/services')) return t.skip('no /etc/services');
  // A udp service with an unprivileged port that is free here.
  const services = [...parseServices(readFileSync('/etc/services', 'utf8'))]
    .filter(([k, port]) => k.endsWith('/udp') && port >= 1024 && port < 32768);
  for (const [key, port] of services) {
    const s = dgram.createSocket('udp4');
    const bound = await new Promise<boolean>((resolve) => {
      s.once('error', () => resolve(false));
      s.bind(port, '127.0.0.1', () => resolve(true));
    });
    if (!bound) {
      s.close();
      continue;
    }
    try {
      const got: number[] = [];
      s.on('message', (m) => got.push(m.length));
      const name = key.slice(0, -'/udp'.length);
      const r = await knock('-v', '127.0.0.1', `${name}:udp`);
      assert.equal(r.status, 0, r.stderr);
      assert.equal(r.stdout, `hitting udp 127.0.0.1:${port}\n`);
      await until(() => got.length === 1, `the datagram to ${name} (${port})`);
      return;
    } finally {
      s.close();
    }
  }
  t.skip('no unprivileged udp service port in /etc/services is free');
});

test('invalid arguments exit 1 with a message; failed hits do not', async () => {
  const cases: [string[], RegExp][] = [
    [['127.0.0.1', '70000'], /"70000" is not a tcp port/],
    [['127.0.0.1', 'abc'], /"abc" is not a tcp port/],
    [['127.0.0.1', '7000:sctp'], /unknown protocol "sctp"/],
    [['-d', 'x', '127.0.0.1', '7000'], /-d "x" is not a whole number of milliseconds/],
    [['-4', '-6', '127.0.0.1', '7000'], /-4 and -6 exclude each other/],
    [['-6', '127.0.0.1', '7000'], /127\.0\.0\.1 is an IPv4 address, but -6 asks for IPv6/],
    [['--wait', '0', '127.0.0.1', '7000'], /"0" is not a tcp port/],
    [['host.invalid', '7000'], /cannot resolve host\.invalid/],
    [['', '80'], /^knocklog knock: empty host \(give a host name or an address\)\n$/],
    [['  ', '80'], /^knocklog knock: empty host \(give a host name or an address\)\n$/],
  ];
  await Promise.all(cases.map(async ([args, message]) => {
    const r = await knock(...args);
    assert.equal(r.status, 1, args.join(' '));
    assert.match(r.stderr, message);
    assert.equal(r.stdout, '');
  }));
  // Nothing listens on the port: the reset is not a failure of the knock.
  const closed = await freePort();
  const r = await knock('127.0.0.1', String(closed), `${closed}:udp`);
  assert.deepEqual([r.status, r.stderr], [0, '']);
});

async function freePort(): Promise<number> {
  const srv = net.createServer().listen(0, '127.0.0.1');
  await once(srv, 'listening');
  const { port } = srv.address() as net.AddressInfo;
  srv.close();
  await once(srv, 'close');
  return port;
}

test('--wait reports when a port that opens later accepts connections', async () => {
  const port = await freePort();
  const udp = await udpListeners('127.0.0.1', 1);
  const late = net.createServer((c) => c.destroy());
  try {
    const run = knock('--wait', String(port), '--wait-timeout', '30000', '127.0.0.1', `${udp.ports[0]}:udp`);
    // Open the port only once the knock has arrived, like a door.
    await until(() => udp.got.length === 1, 'the knock');
    late.listen(port, '127.0.0.1');
    const r = await run;
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^port ${port} open after \\d+ ms\\n$`));
  } finally {
    udp.close();
    late.close();
  }
});

test('--wait gives up after --wait-timeout and exits 1', async () => {
  const port = await freePort();
  const r = await knock('--wait', String(port), '--wait-timeout', '200', '127.0.0.1', `${port}:udp`);
  assert.equal(r.status, 1);
  assert.match(r.stdout, new RegExp(`^port ${port} still closed after \\d+ ms\\n$`));
});

/** Listeners on every port of a free range of `size` consecutive loopback ports (udp or tcp). */
async function rangeListeners(proto: 'udp' | 'tcp', size: number) {
  for (let attempt = 0; attempt < 50; attempt++) {
    const low = 40000 + Math.floor(Math.random() * 20000);
    const ports = Array.from({ length: size }, (_, i) => low + i);
    const got: number[] = [];
    const closers: (() => void)[] = [];
    const ok = await Promise.all(ports.map((port) => new Promise<boolean>((resolve) => {
      if (proto === 'udp') {
        const s = dgram.createSocket('udp4');
        s.once('error', () => resolve(false));
        s.on('message', () => got.push(port));
        s.bind(port, '127.0.0.1', () => { closers.push(() => s.close()); resolve(true); });
      } else {
        const srv = net.createServer((c) => { got.push(port); c.destroy(); });
        srv.once('error', () => resolve(false));
        srv.listen(port, '127.0.0.1', () => { closers.push(() => srv.close()); resolve(true); });
      }
    })));
    const close = () => { for (const c of closers) c(); };
    if (ok.every(Boolean)) return { low, high: low + size - 1, got, close };
    close();
  }
  throw new Error(`no free range of ${size} ports found`);
}

/** Each argument list exits 1 with its message on stderr. */
async function usageErrors(cases: [string[], RegExp][]): Promise<void> {
  await Promise.all(cases.map(async ([args, message]) => {
    const bad = await knock(...args);
    assert.equal(bad.status, 1, args.join(' '));
    assert.match(bad.stderr, message);
  }));
}

const TIMED_SECRET = encodeBase32(Buffer.from('a knock secret, 24 bytes'));

/** The sequences that may be current while `run` runs (one, unless a step boundary passes meanwhile). */
async function duringSteps<T>(t: TimedSequence, run: () => Promise<T>): Promise<{ result: T; expected: number[][] }> {
  const before = timeStep(Date.now(), t.stepMs);
  const result = await run();
  const after = timeStep(Date.now(), t.stepMs);
  const expected = [];
  for (let s = before; s <= after; s++) expected.push(deriveSequence(t, s).map((x) => x.port));
  return { result, expected };
}

test('--secret-file: the current sequence of the time-based door reaches UDP and TCP listeners '
  + 'on the derived ports', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'knocklog-knock-'));
  const secret = join(dir, 'door.secret');
  writeFileSync(secret, `${TIMED_SECRET}\n`, { mode: 0o600 });
  try {
    for (const proto of ['udp', 'tcp'] as const) {
      const l = await rangeListeners(proto, 12);
      try {
        const ports = `${l.low}-${l.high}${proto === 'udp' ? ':udp' : ''}`;
        const spec: TimedSequence = {
          secretHex: decodeBase32(TIMED_SECRET)!.toString('hex'), secretFrom: secret, length: 4, stepMs: 5000, proto,
          low: l.low, high: l.high, exclude: [l.low + 1],
        };
        const { result: r, expected } = await duringSteps(spec, () =>
          knock('-v', '-d', '50', '--secret-file', secret, '--ports', ports, '--length', '4', '--step', '5',
            '--exclude', String(l.low + 1), '127.0.0.1'));
        assert.equal(r.status, 0, r.stderr);
        await until(() => l.got.length === 4, `4 ${proto} knocks`);
        assert.ok(expected.some((e) => JSON.stringify(e) === JSON.stringify(l.got)),
          `${l.got} is none of ${JSON.stringify(expected)}`);
        assert.ok(!l.got.includes(l.low + 1), 'an excluded port is never knocked');
        assert.equal(r.stdout, l.got.map((p) => `hitting ${proto} 127.0.0.1:${p}\n`).join(''));
      } finally {
        l.close();
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('--door NAME -c CONF knocks the door\'s current sequence; wrong combinations are usage errors', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'knocklog-knock-'));
  writeFileSync(join(dir, 'door.secret'), TIMED_SECRET, { mode: 0o600 });
  const l = await rangeListeners('udp', 10);
  try {
    const conf = join(dir, 'knockd.conf');
    writeFileSync(conf, `[static]\nsequence = ${l.low + 2}:udp\n[t]\nsequence_secret_file = door.secret\n`
      + `sequence_ports = ${l.low}-${l.high}:udp\n`);
    const door = loadConfig(conf).doors[1]!;
    const { result: r, expected } = await duringSteps(timedOf(door),
      () => knock('-d', '50', '--door', 't', '-c', conf, '127.0.0.1'));
    assert.equal(r.status, 0, r.stderr);
    await until(() => l.got.length === 3, '3 knocks');
    assert.ok(expected.some((e) => JSON.stringify(e) === JSON.stringify(l.got)),
      `${l.got} is none of ${JSON.stringify(expected)}`);
    assert.ok(!l.got.includes(l.low + 2), "another door's port is never drawn");
    const cases: [string[], RegExp][] = [
      [['--door', 'static', '-c', conf, '127.0.0.1'], /door \[static\] of .* is not time-based/],
      [['--door', 'nope', '-c', conf, '127.0.0.1'], /has no door \[nope\] \(doors: static, t\)/],
      [['--door', 't', '-c', conf, '127.0.0.1', '7000'], /give no PORT arguments/],
      [['--secret-file', join(dir, 'door.secret'), '127.0.0.1'], /--secret-file needs --ports LOW-HIGH/],
      [['--secret-file', join(dir, 'missing'), '--ports', '1-2', '127.0.0.1'],
        /--secret-file: secret file .*missing cannot be read: does not exist/],
      [['--secret-file', join(dir, 'door.secret'), '--ports', '100-101', '127.0.0.1'],
        /--ports 100-101 has 2 usable ports, fewer than the length 3/],
      [['--length', '3', '127.0.0.1', '7000'], /--length goes with --secret-file/],
      [['127.0.0.1'], /give the ports to knock, or --secret-file/],
      [['-u', '--door', 't', '-c', conf, '127.0.0.1'], /-u does not apply to a time-based door/],
    ];
    await usageErrors(cases);
  } finally {
    l.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('--bind: a bound door\'s sequence for the given address (or auto: the one this host sends from); '
  + 'misuse is an error',
  async () => {
    const dir = mkdtempSync(join(tmpdir(), 'knocklog-knock-'));
    mkdirSync(join(dir, 'users.d'), { mode: 0o700 });
    writeFileSync(join(dir, 'users.d', 'alice'), TIMED_SECRET, { mode: 0o600 });
    writeFileSync(join(dir, 'alice.secret'), TIMED_SECRET, { mode: 0o600 });
    const l = await rangeListeners('udp', 10);
    try {
      const conf = join(dir, 'knockd.conf');
      writeFileSync(conf, '[t]\nsequence_secret_dir = users.d\nsequence_bind = address\n'
        + `sequence_ports = ${l.low}-${l.high}:udp\n`);
      const t = timedOf(loadConfig(conf).doors[0]);
      const hex = decodeBase32(TIMED_SECRET)!.toString('hex');
      const boundFor = async (addr: string, args: string[]) => {
        l.got.length = 0;
        const before = timeStep(Date.now(), t.stepMs);
        const r = await knock('-d', '50', ...args);
        const after = timeStep(Date.now(), t.stepMs);
        assert.equal(r.status, 0, r.stderr);
        assert.equal(r.stderr, '', 'no NAT warning');
        await until(() => l.got.length === 3, '3 knocks');
        const expected = [before, after].map((s) => deriveBoundSequence(t, s, hex, addr).map((x) => x.port));
        assert.ok(expected.some((e) => JSON.stringify(e) === JSON.stringify(l.got)),
          `${l.got}: ${JSON.stringify(expected)}`);
      };
      await boundFor('192.0.2.9', ['--secret-file', join(dir, 'alice.secret'), '--ports', `${l.low}-${l.high}:udp`,
        '--bind', '192.0.2.9', '127.0.0.1']);
      await boundFor('127.0.0.1', ['--door', 't', '--user', 'alice', '-c', conf, '--bind', 'auto', '127.0.0.1']);
      const cases: [string[], RegExp][] = [
        [['--bind', '192.0.2.9', '127.0.0.1', '7000'], /--bind goes with --secret-file or --door/],
        [['--door', 't', '--user', 'alice', '-c', conf, '127.0.0.1'],
          /binds its sequences to the knocking address: give --bind/],
        [['--door', 't', '-c', conf, '--bind', 'auto', '127.0.0.1'],
          /has a secret per user in .*users\.d: give --user NAME/],
        [['--door', 't', '--user', 'bob', '-c', conf, '--bind', 'auto', '127.0.0.1'], /has no user bob/],
        [['--door', 't', '--user', 'alice', '-c', conf, '--bind', '300.1.1.1', '127.0.0.1'],
          /is not an IPv4 or IPv6 address/],
        [['--door', 't', '--user', 'alice', '-c', conf, '--bind', '::1', '127.0.0.1'],
          /is not of 127\.0\.0\.1's family/],
        [['--secret-file', join(dir, 'alice.secret'), '--user', 'alice', '--ports', '1-9', '127.0.0.1'],
          /--user goes with --door/],
      ];
      await usageErrors(cases);
    } finally {
      l.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

test('--bind auto warns when the address found is one a NAT would rewrite', () => {
  for (const a of ['10.1.2.3', '192.168.0.5', '172.20.1.1', '100.64.0.1', '169.254.1.1', 'fd00::1', 'fe80::1']) {
    assert.ok(likelyNated(a), a);
  }
  for (const a of ['192.0.2.1', '172.32.0.1', '100.128.0.1', '2001:db8::1', '127.0.0.1']) assert.ok(!likelyNated(a), a);
});
