import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig, parseConfig } from '../src/config/index.js';
import { generateRules, portGroups, RulesError, type RulesOptions } from '../src/rules/index.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const CLI = fileURLToPath(new URL('../src/cli.js', import.meta.url));
const fx = (name: string): string => join(ROOT, 'test/fixtures/config', name);

const IPT: RulesOptions = { backend: 'iptables', via: 'log', prefix: 'KNOCK', group: 0, family: 4, jump: true };
const NFT: RulesOptions = { ...IPT, backend: 'nft' };

const config = (text: string) => parseConfig(text, 'k.conf', { requireWritable: false });
const ruleLines = (out: string, start: string): string[] => out.split('\n').filter((l) => l.startsWith(start));

test('the seed config: one SYN-only multiport rule for 7000,8000,9000 (both doors share the ports)', () => {
  const c = loadConfig(fx('seed-openssh.conf'));
  assert.deepEqual(portGroups(c, [4]), [{ dst: null, proto: 'tcp', synOnly: true, ports: [7000, 8000, 9000] }]);
  const out = generateRules(c, IPT);
  assert.deepEqual(ruleLines(out, '-'), [
    '-I INPUT 1 -j KNOCKLOG',
    '-A KNOCKLOG -p tcp --syn -m multiport --dports 7000,8000,9000 -g KNOCKLOG-LOG',
    '-A KNOCKLOG-LOG -m hashlimit --hashlimit-above 10/second --hashlimit-burst 40 --hashlimit-mode srcip'
      + ' --hashlimit-name knocklog'
      + ' --hashlimit-htable-size 4096 --hashlimit-htable-max 65536 --hashlimit-htable-expire 10000 -j RETURN',
    '-A KNOCKLOG-LOG -m hashlimit --hashlimit-upto 50/second --hashlimit-burst 100 --hashlimit-mode dstport'
      + ' --hashlimit-name knocklog-port'
      + ' --hashlimit-htable-size 4096 --hashlimit-htable-max 65536 --hashlimit-htable-expire 10000'
      + ' -j LOG --log-prefix "KNOCK " --log-level warning',
  ]);
});

test('ports are deduplicated; flags that a SYN cannot satisfy log all TCP; '
  + 'Target doors match -d of their family', () => {
  const c = config([
    '[a]', 'sequence = 7000,8000:udp,9000', 'tcpflags = syn,!ack',
    '[b]', 'sequence = 9000:tcp,6000', 'tcpflags = ack', // 9000 needs all TCP now
    '[c]', 'sequence = 7000,5555,8000:UDP', 'target = 10.0.0.50', // 7000 and 8000/udp already logged for any address
    '[d]', 'sequence = 7000,4444', 'target = fd00::1',
  ].join('\n'));
  assert.deepEqual(portGroups(c, [4]), [
    { dst: null, proto: 'tcp', synOnly: true, ports: [7000] },
    { dst: null, proto: 'tcp', synOnly: false, ports: [6000, 9000] },
    { dst: null, proto: 'udp', synOnly: false, ports: [8000] },
    { dst: '10.0.0.50', proto: 'tcp', synOnly: true, ports: [5555] },
  ]);
  assert.deepEqual(ruleLines(generateRules(c, { ...IPT, family: 6 }), '-A KNOCKLOG '), [
    '-A KNOCKLOG -p tcp --syn --dport 7000 -g KNOCKLOG-LOG',
    '-A KNOCKLOG -p tcp -m multiport --dports 6000,9000 -g KNOCKLOG-LOG',
    '-A KNOCKLOG -p udp --dport 8000 -g KNOCKLOG-LOG',
    '-A KNOCKLOG -d fd00::1 -p tcp --syn --dport 4444 -g KNOCKLOG-LOG',
  ]);
  const nft = generateRules(c, NFT);
  assert.deepEqual(nft.split('\n').filter((l) => l.endsWith('goto knock')).map((l) => l.trim()), [
    'tcp dport 7000 tcp flags & (fin | syn | rst | ack) == syn goto knock',
    'tcp dport { 6000, 9000 } goto knock',
    'udp dport 8000 goto knock',
    'ip daddr 10.0.0.50 tcp dport 5555 tcp flags & (fin | syn | rst | ack) == syn goto knock',
    'ip6 daddr fd00::1 tcp dport 4444 tcp flags & (fin | syn | rst | ack) == syn goto knock',
  ]);
});

test('a one-time door logs every port of every unused sequence', () => {
  const c = loadConfig(fx('onetime.conf'), {}, { requireWritable: false });
  // smtp_sequences: unused lines "2002:udp, 3002, 4002:UDP" and "2003,3003,4003"; tcpflags fin,!ack.
  assert.deepEqual(portGroups(c, [4]), [
    { dst: null, proto: 'tcp', synOnly: false, ports: [2003, 3002, 3003, 4003] },
    { dst: null, proto: 'udp', synOnly: false, ports: [2002, 4002] },
  ]);
});

test('more than 15 ports take several multiport rules', () => {
  const ports = Array.from({ length: 32 }, (_, i) => 20000 + i);
  const out = generateRules(config(`[many]\nsequence = ${ports.join(',')}`), IPT);
  const rules = ruleLines(out, '-A KNOCKLOG ');
  assert.equal(rules.length, 3);
  const listed = rules.map((r) => /--dports? (\S+)/.exec(r)?.[1]?.split(',').map(Number) ?? []);
  assert.deepEqual(listed.map((l) => l.length), [15, 15, 2]);
  assert.deepEqual(listed.flat(), ports);
});

const SECRET = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ';
const TIMED = `[timed]\nsequence_secret = ${SECRET}\nsequence_ports = 20000-29999\n`
  + `[web]\nsequence = 20500,8000:udp\n[v6]\nsequence_secret = ${SECRET}\n`
  + 'sequence_ports = 40000-40999:udp\ntarget = fd00::1\n';

test('a time-based door logs its whole port range in one rule, not one per port', () => {
  const c = config(TIMED);
  assert.deepEqual(portGroups(c, [4, 6]), [
    { dst: null, proto: 'tcp', synOnly: true, ports: [], ranges: [[20000, 29999]] },
    { dst: null, proto: 'udp', synOnly: false, ports: [8000] },
    { dst: 'fd00::1', proto: 'udp', synOnly: false, ports: [], ranges: [[40000, 40999]] },
  ], 'port 20500 of [web] is in the range: the range rule logs it');
  assert.deepEqual(ruleLines(generateRules(c, IPT), '-A KNOCKLOG '), [
    '-A KNOCKLOG -p tcp --syn --dport 20000:29999 -g KNOCKLOG-LOG',
    '-A KNOCKLOG -p udp --dport 8000 -g KNOCKLOG-LOG',
  ]);
  assert.deepEqual(ruleLines(generateRules(c, { ...IPT, family: 6 }), '-A KNOCKLOG '), [
    '-A KNOCKLOG -p tcp --syn --dport 20000:29999 -g KNOCKLOG-LOG',
    '-A KNOCKLOG -p udp --dport 8000 -g KNOCKLOG-LOG',
    '-A KNOCKLOG -d fd00::1 -p udp --dport 40000:40999 -g KNOCKLOG-LOG',
  ]);
  const nft = generateRules(c, NFT);
  assert.match(nft, /^\t\ttcp dport 20000-29999 tcp flags & \(fin \| syn \| rst \| ack\) == syn goto knock$/m);
  assert.match(nft, /^\t\tip6 daddr fd00::1 udp dport 40000-40999 goto knock$/m);
  assert.match(nft, /^# {3}\[timed\] time-based, 3 ports of 20000-29999:tcp, a new sequence every 30 s$/m);
  assert.ok(!nft.includes(SECRET) && !nft.includes(Buffer.from('12345678901234567890').toString('hex')),
    'the secret stays out of the rules');
});

test('--via log: a budget per source, then per knock port; a time-based range has one budget of its own', () => {
  const c = config(TIMED);
  assert.deepEqual(ruleLines(generateRules(c, { ...IPT, family: 6 }), '-A KNOCKLOG-LOG '), [
    '-A KNOCKLOG-LOG -m hashlimit --hashlimit-above 10/second --hashlimit-burst 40 --hashlimit-mode srcip'
      + ' --hashlimit-srcmask 64'
      + ' --hashlimit-name knocklog --hashlimit-htable-size 4096 --hashlimit-htable-max 65536'
      + ' --hashlimit-htable-expire 10000 -j RETURN',
    '-A KNOCKLOG-LOG -p tcp --syn --dport 20000:29999 -m limit --limit 50/second --limit-burst 100'
      + ' -j LOG --log-prefix "KNOCK " --log-level warning',
    '-A KNOCKLOG-LOG -p tcp --syn --dport 20000:29999 -j RETURN',
    '-A KNOCKLOG-LOG -d fd00::1 -p udp --dport 40000:40999 -m limit --limit 50/second --limit-burst 100'
      + ' -j LOG --log-prefix "KNOCK " --log-level warning',
    '-A KNOCKLOG-LOG -d fd00::1 -p udp --dport 40000:40999 -j RETURN',
    '-A KNOCKLOG-LOG -m hashlimit --hashlimit-upto 50/second --hashlimit-burst 100 --hashlimit-mode dstport'
      + ' --hashlimit-name knocklog-port'
      + ' --hashlimit-htable-size 4096 --hashlimit-htable-max 65536 --hashlimit-htable-expire 10000'
      + ' -j LOG --log-prefix "KNOCK " --log-level warning',
  ]);
  const nft = generateRules(c, NFT);
  const emit = nft.slice(nft.indexOf('\tchain emit {')).split('\n').slice(1, -3).map((l) => l.trim());
  assert.deepEqual(emit, [
    'tcp dport 20000-29999 tcp flags & (fin | syn | rst | ack) == syn limit rate 50/second burst 100 packets counter'
      + ' log prefix "KNOCK " level warn',
    'tcp dport 20000-29999 tcp flags & (fin | syn | rst | ack) == syn return',
    'ip6 daddr fd00::1 udp dport 40000-40999 limit rate 50/second burst 100 packets counter'
      + ' log prefix "KNOCK " level warn',
    'ip6 daddr fd00::1 udp dport 40000-40999 return',
    'update @ports { th dport limit rate 50/second burst 100 packets } counter log prefix "KNOCK " level warn',
  ]);
  assert.doesNotMatch(nft, /limit rate 100\/second/, 'no budget shared by all ports');
});

test('--via nflog (for ulogd-socket): no budget at all, and NFLOG copies only the headers', () => {
  const c = config(TIMED);
  const ipt = generateRules(c, { ...IPT, via: 'nflog', group: 5 });
  assert.deepEqual(ruleLines(ipt, '-A KNOCKLOG-LOG '), [
    '-A KNOCKLOG-LOG -j NFLOG --nflog-group 5 --nflog-prefix "KNOCK" --nflog-size 128 --nflog-threshold 1',
  ]);
  assert.doesNotMatch(ipt.split('\n').filter((l) => !l.startsWith('#')).join('\n'), /limit/);
  const nft = generateRules(c, { ...NFT, via: 'nflog', group: 5 });
  assert.doesNotMatch(nft.split('\n').filter((l) => !l.startsWith('#')).join('\n'), /limit|set |goto knock/);
  assert.match(nft, /^\t\ttcp dport 20000-29999 tcp flags & \(fin \| syn \| rst \| ack\) == syn goto emit$/m);
  assert.match(nft, /^\tchain emit \{\n\t\tcounter log group 5 snaplen 128 queue-threshold 1 prefix "KNOCK"\n\t\}$/m);
});

test('the prefix: one space before IN= for LOG, none for NFLOG (ulogd2 adds it); '
  + 'too long or unquotable is an error', () => {
  const c = loadConfig(fx('seed-openssh.conf'));
  assert.match(generateRules(c, { ...IPT, prefix: 'KNOCK ' }), /--log-prefix "KNOCK " /);
  assert.match(generateRules(c, { ...IPT, via: 'nflog', group: 3 }),
    /-j NFLOG --nflog-group 3 --nflog-prefix "KNOCK" --nflog-size 128 --nflog-threshold 1\n/);
  assert.match(generateRules(c, { ...NFT, via: 'nflog', group: 3 }),
    /log group 3 snaplen 128 queue-threshold 1 prefix "KNOCK"\n/);
  assert.match(generateRules(c, NFT), /log prefix "KNOCK " level warn\n/);
  const p28 = 'P'.repeat(28);
  assert.match(generateRules(c, { ...IPT, prefix: p28 }), new RegExp(`--log-prefix "${p28} "`));
  assert.throws(() => generateRules(c, { ...IPT, prefix: `${p28}X` }),
    (e: Error) => e instanceof RulesError
      && /is 30 bytes with the space before IN=; the kernel's LOG target keeps at most 29/.test(e.message));
  // The kernel counts bytes: 14 two-byte characters and the space fit, 20 (41 bytes) do not.
  assert.match(generateRules(c, { ...IPT, prefix: 'é'.repeat(14) }), new RegExp(`--log-prefix "${'é'.repeat(14)} "`));
  assert.throws(() => generateRules(c, { ...IPT, prefix: 'é'.repeat(20) }), /is 41 bytes with the space before IN=/);
  assert.throws(() => generateRules(c, { ...NFT, via: 'nflog', prefix: 'é'.repeat(64) }), /is 128 bytes; .* 127/);
  assert.ok(generateRules(c, { ...IPT, via: 'nflog', prefix: 'N'.repeat(63) }));
  assert.throws(() => generateRules(c, { ...IPT, via: 'nflog', prefix: 'N'.repeat(64) }), /at most 63/);
  assert.throws(() => generateRules(c, { ...IPT, prefix: 'KN"OCK' }), /quote, backslash or control character/);
  assert.throws(() => generateRules(c, { ...IPT, via: 'nflog', group: 65536 }), /NFLOG group 65536/);
});

test('rules/iptables-log.rules is what knocklog rules prints for the seed config', () => {
  const r = spawnSync(process.execPath, [CLI, 'rules', '-c', fx('seed-openssh.conf')], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, readFileSync(join(ROOT, 'rules/iptables-log.rules'), 'utf8'),
    'regenerate it: node dist/src/cli.js rules -c test/fixtures/config/seed-openssh.conf > rules/iptables-log.rules');
  // The seed article's start_command appends its ACCEPT: said on stderr.
  assert.match(r.stderr, /warning: door openSSH .*-A INPUT.*insert it with -I INPUT 1/);
});

test('knocklog rules --ulogd-conf: the NFLOG -> BASE -> IFINDEX -> IP2STR -> JSON stack '
  + 'onto the ulogd-socket source\'s path', () => {
  const dir = mkdtempSync(join(tmpdir(), 'knocklog-ulogd-conf-'));
  try {
    const conf = join(dir, 'k.conf');
    writeFileSync(conf, '[options]\n  Sources = ulogd-socket:sock/ulogd.sock\n[a]\n  sequence = 7000,8000\n');
    const out = rulesOf('-c', conf, '--ulogd-conf', '--group', '9');
    assert.deepEqual(out.split('\n').filter((l) => l !== '' && !l.startsWith('#')), [
      '[global]', 'logfile="syslog"', 'loglevel=7',
      'stack=knocklog_nflog:NFLOG,knocklog_base:BASE,knocklog_ifindex:IFINDEX,'
        + 'knocklog_ip2str:IP2STR,knocklog_json:JSON',
      '[knocklog_nflog]', 'group=9',
      '[knocklog_json]', 'mode="unix"', `file="${join(dir, 'sock/ulogd.sock')}"`,
    ], 'the path is relative to the config, as every path of it');
    assert.match(rulesOf('-c', fx('seed-openssh.conf'), '--ulogd-conf'),
      /^file="\/run\/knocklog-ulogd\/ulogd\.sock"$/m);
    writeFileSync(conf, `[options]\n  Sources = ulogd-socket:/${'d'.repeat(120)}/u.sock\n[a]\n  sequence = 7000\n`);
    const r = spawnSync(process.execPath, [CLI, 'rules', '-c', conf, '--ulogd-conf'], { encoding: 'utf8' });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /the socket path \/d+\/u\.sock is 128 bytes; a Unix socket path may have at most 106/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('knocklog rules: option errors and config errors exit 1 with a message', () => {
  const run = (...args: string[]) => spawnSync(process.execPath, [CLI, 'rules', ...args], { encoding: 'utf8' });
  const cases: [string[], RegExp][] = [
    [['-c', fx('seed-openssh.conf'), '--group', '2'], /--group applies to NFLOG rules only/],
    [['-c', fx('seed-openssh.conf'), '--backend', 'nft', '--family', '6'],
      /--family applies to --backend iptables only/],
    [['-c', fx('seed-openssh.conf'), '--prefix', 'A'.repeat(40)], /keeps at most 29/],
    [['-c', fx('broken.conf')], /cannot read the config:\n.*broken\.conf:\d+: /],
    [['-c', '/nonexistent.conf'], /cannot read the config file: does not exist/],
  ];
  for (const [args, message] of cases) {
    const r = run(...args);
    assert.equal(r.status, 1, args.join(' '));
    assert.match(r.stderr, message);
    assert.equal(r.stdout, '');
  }
});

// ---- The real tools, in a network namespace of our own ----

const requireE2E = process.env['KNOCKLOG_REQUIRE_E2E'] === '1';

function e2eUnavailable(): string | false {
  if (process.platform !== 'linux') return 'network namespaces need Linux';
  if (process.getuid?.() !== 0) return 'needs root (ip netns, iptables-restore, nft)';
  for (const tool of ['ip', 'iptables-restore', 'ip6tables-restore', 'iptables', 'nft']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) return `${tool} is not installed`;
  }
  return false;
}
const unavailable = e2eUnavailable();
const e2e = { skip: requireE2E ? false : unavailable };

/** Runs `fn` with a fresh network namespace (loopback up), deleted afterwards whatever happens. */
function withNetns(fn: (exec: (cmd: string[], input?: string) => string) => void): void {
  if (unavailable) assert.fail(`KNOCKLOG_REQUIRE_E2E=1, but ${unavailable}`);
  const ns = `knocklog-rules-test-${process.pid}`;
  const sh = (cmd: string[], input?: string): string => {
    const r = spawnSync(cmd[0] ?? '', cmd.slice(1), { encoding: 'utf8', input });
    assert.equal(r.status, 0, `${cmd.join(' ')}: ${r.stderr}`);
    return r.stdout;
  };
  sh(['ip', 'netns', 'add', ns]);
  try {
    const exec = (cmd: string[], input?: string): string => sh(['ip', 'netns', 'exec', ns, ...cmd], input);
    exec(['ip', 'link', 'set', 'lo', 'up']);
    fn(exec);
  } finally {
    spawnSync('ip', ['netns', 'del', ns]);
  }
}

const rulesOf = (...args: string[]): string => {
  const r = spawnSync(process.execPath, [CLI, 'rules', ...args], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
};

test('iptables-restore, ip6tables-restore and nft accept every generated file', e2e, () => {
  const dir = mkdtempSync(join(tmpdir(), 'knocklog-rules-'));
  try {
    const many = join(dir, 'many.conf');
    writeFileSync(many, `[many]\nsequence = ${Array.from({ length: 32 }, (_, i) =>
      `${20000 + i}:${i % 3 ? 'tcp' : 'udp'}`).join(',')}\n`);
    const timed = join(dir, 'timed.conf');
    writeFileSync(timed, TIMED);
    withNetns((exec) => {
      for (const conf of [fx('seed-openssh.conf'), fx('full.conf'), fx('debian-knockd.conf'), fx('onetime.conf'),
        many, timed]) {
        const c = loadConfig(conf, {}, { requireWritable: false });
        for (const via of ['log', 'nflog'] as const) {
          const o = { ...IPT, via, prefix: c.options.prefix, group: 7 };
          exec(['iptables-restore', '--test', '--noflush'], generateRules(c, o));
          exec(['ip6tables-restore', '--test', '--noflush'], generateRules(c, { ...o, family: 6 }));
          exec(['nft', '-c', '-f', '-'], generateRules(c, { ...o, backend: 'nft' }));
        }
      }
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** Knocks on the namespace's own loopback with knocklog knock (SYNs to 7000-9000 and other packets). */
function knockInside(exec: (cmd: string[]) => string): void {
  exec([process.execPath, CLI, 'knock', '127.0.0.1', '7000', '1234', '8000', '7000:udp', '9000']);
}

test('loaded iptables rules log exactly the knock SYNs ahead of a DROP policy, and reload in place', e2e, () => {
  withNetns((exec) => {
    exec(['iptables', '-P', 'INPUT', 'DROP']);
    exec(['iptables', '-A', 'INPUT', '-j', 'DROP']);
    exec(['iptables-restore', '--noflush'], rulesOf('-c', fx('seed-openssh.conf')));
    knockInside(exec);
    const logRule = () => exec(['iptables', '-L', 'KNOCKLOG-LOG', '-n', '-v', '-x']).split('\n')
      .find((l) => l.includes(' LOG ')) ?? '';
    const logged = (): number => Number(/^\s*(\d+)/.exec(logRule())?.[1]);
    assert.equal(logged(), 3);
    // Refilling the chains of the loaded firewall: the jump stays single and first.
    exec(['iptables-restore', '--noflush'], rulesOf('-c', fx('seed-openssh.conf'), '--no-jump'));
    const input = exec(['iptables', '-S', 'INPUT']).split('\n').filter((l) => l.startsWith('-A'));
    assert.deepEqual(input, ['-A INPUT -j KNOCKLOG', '-A INPUT -j DROP']);
    assert.equal(exec(['iptables', '-S', 'KNOCKLOG']).split('\n').filter((l) => l.startsWith('-A')).length, 1);
  });
});

test('a loaded nft table logs exactly the knock SYNs before a filter DROP, and reloads in place', e2e, () => {
  withNetns((exec) => {
    exec(['nft', '-f', '-'],
      'table inet filter { chain input { type filter hook input priority filter; policy drop; }; }');
    const ruleset = rulesOf('-c', fx('seed-openssh.conf'), '--backend', 'nft');
    exec(['nft', '-f', '-'], ruleset);
    exec(['nft', '-f', '-'], ruleset); // idempotent: replaces the table
    knockInside(exec);
    const emit = exec(['nft', 'list', 'chain', 'inet', 'knocklog', 'emit']);
    assert.match(emit, /counter packets 3 /);
    assert.equal(exec(['nft', 'list', 'tables']).split('\n').filter((l) => l === 'table inet knocklog').length, 1);
  });
});
