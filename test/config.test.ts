import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { constants, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import {
  ConfigError, type ConfigIO, DEFAULT_OPTIONS, formatSequence, loadConfig, parseConfig, parseSequence,
  readOneTimeSequences,
} from '../src/config/index.js';
import type { Door } from '../src/types.js';
import { oneTimeOf, sequenceOf } from './helpers/doors.js';

const FIX = fileURLToPath(new URL('../../test/fixtures/config/', import.meta.url));
const CLI = fileURLToPath(new URL('../src/cli.js', import.meta.url));
const fx = (name: string): string => join(FIX, name);

/** The errors parseConfig throws for `text` (as file k.conf); fails if it does not throw. */
function errorsOf(text: string, io?: ConfigIO): string[] {
  try {
    parseConfig(text, 'k.conf', io ? { io } : {});
  } catch (e) {
    assert.ok(e instanceof ConfigError, String(e));
    return e.errors;
  }
  assert.fail(`no error for:\n${text}`);
}

const door = (body: string): string => `[d]\n${body}\n`;
const seqOf = (text: string): string => formatSequence(sequenceOf(parseConfig(text, 'k.conf').doors[0]));

const tcp = (port: number) => ({ proto: 'tcp' as const, port });
const udp = (port: number) => ({ proto: 'udp' as const, port });

test("Debian's knockd.conf loads as knockd reads it", () => {
  const c = loadConfig(fx('debian-knockd.conf'));
  assert.equal(c.options.useSyslog, true);
  assert.deepEqual(c.doors.map((d) => d.name), ['openSSH', 'closeSSH', 'openHTTPS']);
  assert.deepEqual(c.doors.map((d) => formatSequence(sequenceOf(d))), [
    '7000:tcp,8000:tcp,9000:tcp', '9000:tcp,8000:tcp,7000:tcp', '12345:tcp,54321:tcp,24680:tcp,13579:tcp',
  ]);
  assert.deepEqual(c.doors.map((d) => d.where), [4, 10, 16].map((n) => `${fx('debian-knockd.conf')}:${n}`));
  for (const d of c.doors) {
    assert.equal(d.seqTimeoutMs, 5000);
    assert.deepEqual(d.tcpFlags, [{ flag: 'syn', negated: false }]);
  }
  assert.equal(c.doors[2]?.startCommand, '/usr/local/sbin/knock_add -i -c INPUT -p tcp -d 443 -f %IP%');
});

test('the seed openSSH/closeSSH config gives exactly these doors', () => {
  const path = fx('seed-openssh.conf');
  const c = loadConfig(path);
  assert.deepEqual(c.options, { ...DEFAULT_OPTIONS, logFile: '/var/log/knockd.log' });
  const open = '/sbin/iptables -A INPUT -s %IP% -p tcp --dport 22 -j ACCEPT';
  const close = '/sbin/iptables -D INPUT -s %IP% -p tcp --dport 22 -j ACCEPT';
  const expected: Door[] = [
    { kind: 'fixed', name: 'openSSH', where: `${path}:4`, sequence: [tcp(7000), tcp(8000), tcp(9000)],
      seqTimeoutMs: 5000,
      tcpFlags: [{ flag: 'syn', negated: false }], startCommand: open, startCommand6: open, stopCommand: null,
      stopCommand6: null, cmdTimeoutMs: 10000, target: null },
    { kind: 'fixed', name: 'closeSSH', where: `${path}:10`, sequence: [tcp(9000), tcp(8000), tcp(7000)],
      seqTimeoutMs: 5000,
      tcpFlags: [{ flag: 'syn', negated: false }], startCommand: close, startCommand6: close, stopCommand: null,
      stopCommand6: null, cmdTimeoutMs: 10000, target: null },
  ];
  assert.deepEqual(c.doors, expected);
  assert.equal(c.path, path);
});

test('every key, alias and knocklog setting', () => {
  const path = fx('full.conf');
  const c = loadConfig(path);
  assert.deepEqual(c.options, {
    useSyslog: true, logFile: '/var/log/knockd.log', pidFile: '/run/knockd.pid', interface: 'eth1',
    sources: ['file:/var/log/kern.log', 'journal'], prefix: '[UFW BLOCK] ', stateDir: '/var/lib/knocklog-test',
    maxSources: 5000, user: 'knocklog',
  });
  assert.deepEqual(c.doors[0], {
    kind: 'fixed', name: 'web', where: `${path}:13`, sequence: [tcp(7000), udp(8000), tcp(9000)], seqTimeoutMs: 2500,
    tcpFlags: [{ flag: 'syn', negated: false }, { flag: 'ack', negated: true }, { flag: 'rst', negated: true }],
    startCommand: '/usr/sbin/nft add element inet filter knocked { %IP% } # not a comment',
    startCommand6: '', stopCommand: 'echo a=b', stopCommand6: 'echo a=b', cmdTimeoutMs: 0, target: 'fd31::1',
  });
  assert.deepEqual(sequenceOf(c.doors[1]), [udp(4444)]);
});

test("defaults are knockd's", () => {
  const c = parseConfig('[d]\nsequence = 1\n', '/etc/knockd.conf');
  assert.deepEqual(c.options, {
    useSyslog: false, logFile: null, pidFile: '/run/knocklog/knocklog.pid', interface: null, sources: [],
    prefix: 'KNOCK',
    stateDir: '/var/lib/knocklog', maxSources: 100000, user: 'knocklog',
  });
  const d = c.doors[0];
  assert.equal(d?.seqTimeoutMs, 25000);
  assert.equal(d?.cmdTimeoutMs, 10000);
  assert.deepEqual([d?.startCommand, d?.startCommand6, d?.stopCommand, d?.stopCommand6, d?.target],
    [null, null, null, null, null]);
  assert.deepEqual(d?.tcpFlags, []);
});

test('grammar: first "=", case-insensitive keys, whole-line comments only, [Options], CRLF, '
  + 'bare UseSyslog anywhere', () => {
  const c = parseConfig(
    '  # a comment\r\n[OPTIONS]\r\nlogfile=/tmp/a=b.log\r\n\r\n[ door one ]\r\n\tSEQUENCE=7000\r\n'
      + '  START_command =  echo hi # x  \r\nusesyslog\r\n', '/k.conf');
  assert.equal(c.options.logFile, '/tmp/a=b.log');
  assert.equal(c.options.useSyslog, true);
  assert.equal(c.doors[0]?.name, 'door one');
  assert.equal(c.doors[0]?.startCommand, 'echo hi # x');
  assert.equal(c.doors[0]?.where, '/k.conf:5');
});

test('sequences: items and protocols trimmed and case-insensitive, repeats allowed, 32 ports', () => {
  assert.equal(seqOf(door('sequence = 7000 , 8000:UDP,9000: tcp ,7000')), '7000:tcp,8000:udp,9000:tcp,7000:tcp');
  assert.equal(seqOf(door('sequence = 65535,1')), '65535:tcp,1:tcp');
  const ports32 = Array.from({ length: 32 }, (_, i) => 1000 + i);
  assert.equal(sequenceOf(parseConfig(door(`sequence = ${ports32.join(',')}`), 'k.conf').doors[0]).length, 32);
});

test('Start_Command_6/Stop_Command_6 fall back to the IPv4 commands; an explicit empty value runs nothing', () => {
  const d = (body: string) => parseConfig(door(`sequence = 1\n${body}`), 'k.conf').doors[0];
  assert.deepEqual(
    [d('command = a\nstop_command = b')?.startCommand6, d('command = a\nstop_command = b')?.stopCommand6], ['a', 'b']);
  const empty = d('start_command = a\nstart_command_6 =\nstop_command = b\nstop_command_6 =');
  assert.deepEqual([empty?.startCommand, empty?.startCommand6, empty?.stopCommand, empty?.stopCommand6],
    ['a', '', 'b', '']);
  const own = d('command = a\ncommand_6 = a6\nstop_command_6 = b6');
  assert.deepEqual([own?.startCommand6, own?.stopCommand, own?.stopCommand6], ['a6', null, 'b6']);
  assert.equal(d('start_command =')?.startCommand, null);
});

test('times: non-negative decimals in seconds, stored in ms', () => {
  const d = (body: string) => parseConfig(door(`sequence = 1\n${body}`), 'k.conf').doors[0];
  assert.equal(d('seq_timeout = 2.5')?.seqTimeoutMs, 2500);
  assert.equal(d('timeout = 1')?.seqTimeoutMs, 1000);
  assert.equal(d('seq_timeout = 3600')?.seqTimeoutMs, 3_600_000);
  assert.equal(d('cmd_timeout = 0')?.cmdTimeoutMs, 0);
  assert.equal(d('cmd_timeout = 3600')?.cmdTimeoutMs, 3_600_000);
});

test('times out of bounds: seq_timeout from 1 s to 1 h, sequence_step from 1 s (knockd-sized values pass)', () => {
  const errs = (body: string) => errorsOf(door(`sequence = 1\n${body}`));
  assert.deepEqual(errs('seq_timeout = 0.001'),
    ['k.conf:3: Seq_Timeout 0.001 is less than 1 second (use a number of seconds from 1 to 3600)']);
  assert.deepEqual(errs('timeout = 0.999'),
    ['k.conf:3: Seq_Timeout 0.999 is less than 1 second (use a number of seconds from 1 to 3600)']);
  assert.deepEqual(errs('seq_timeout = 3600.5'),
    ['k.conf:3: Seq_Timeout 3600.5 is more than 3600 seconds (use a number of seconds from 1 to 3600)']);
  const secret = 'GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ';
  const timed = (step: string) =>
    errorsOf(`[t]\nsequence_secret = ${secret}\nsequence_ports = 20000-29999\nsequence_step = ${step}\n`);
  assert.deepEqual(timed('0.5'),
    ['k.conf:4: Sequence_Step 0.5 is less than 1 second (use a number of seconds from 1 to 2147483)']);
  // knockd's own examples: whole seconds from 5 to 30.
  for (const v of ['1', '5', '15', '25', '30', '60']) {
    const d = parseConfig(door(`sequence = 1\nseq_timeout = ${v}`), 'k.conf').doors[0];
    assert.equal(d?.seqTimeoutMs, Number(v) * 1000);
  }
});

test('commands: a NUL byte, or more than the kernel takes in one argument after %IP% became an IPv6 address', () => {
  assert.deepEqual(errorsOf(door('sequence = 1\nstart_command = echo a\0b')),
    ['k.conf:3: Start_Command contains a NUL byte, which no command can carry (remove it)']);
  // /bin/sh -c CMD: one argument, at most MAX_ARG_STRLEN (131072) bytes with its NUL, else exec fails with E2BIG.
  const max = 131071;
  const fits = `${'x'.repeat(max - 2 * 39)}%IP%%IP%`;
  assert.equal(parseConfig(door(`sequence = 1\nstop_command = ${fits}`), 'k.conf').doors[0]?.stopCommand, fits);
  const over = `:${'é'.repeat((max + 1 - 1 - 39) / 2)}%IP%`;
  assert.deepEqual(errorsOf(door(`sequence = 1\nstop_command_6 = ${over}`)),
    [`k.conf:3: Stop_Command_6 is ${max + 1} bytes once %IP% is an IPv6 address of 39 characters; `
      + `the kernel takes at most ${max} bytes in one argument (shorten it, e.g. put it in a script and run that)`]);
});

test('Prefix: raw value, or double-quoted to keep edge spaces, with \\" and \\\\ escapes', () => {
  const p = (v: string) => parseConfig(`[options]\nprefix = ${v}\n`, 'k.conf').options.prefix;
  assert.equal(p('KNOCK '), 'KNOCK');
  assert.equal(p('[UFW BLOCK] '), '[UFW BLOCK]');
  assert.equal(p('"[UFW BLOCK] "'), '[UFW BLOCK] ');
  assert.equal(p('"a\\"b\\\\c"'), 'a"b\\c');
  assert.equal(p('knock"s'), 'knock"s');
});

test('relative paths are relative to the config file', () => {
  const c = parseConfig('[options]\nlogfile = log/k.log\nsources = file:kern.log,stdin,ulogd-socket:u.sock\n'
    + 'statedir = state\npidfile = /run/k.pid\n', '/etc/knock/knockd.conf');
  assert.deepEqual([c.options.logFile, c.options.sources, c.options.stateDir, c.options.pidFile],
    ['/etc/knock/log/k.log', ['file:/etc/knock/kern.log', 'stdin', 'ulogd-socket:/etc/knock/u.sock'],
      '/etc/knock/state', '/run/k.pid']);
});

const IFACE_HINT = 'use a name such as eth0 as the log shows it after IN= (at most 15 bytes, no blanks, "/" or "=")';
const ROOT_USER = (u: string) => `k.conf:2: User "${u}" is root `
  + '(the reader parses untrusted log lines and must not run as root: '
  + 'use a user of its own: useradd --system --no-create-home --shell /usr/sbin/nologin knocklog)';

// Each malformed case: the config text and every error it must produce, exactly.
const MALFORMED: [string, string, string[]][] = [
  ['port that is not a number', door('sequence = 7000,abc'),
    ['k.conf:2: "abc" is not a port number (use a port number from 1 to 65535)']],
  ['negative port', door('sequence = -1'),
    ['k.conf:2: "-1" is not a port number (use a port number from 1 to 65535)']],
  ['port above 65535', door('sequence = 7000,70000'),
    ['k.conf:2: port 70000 is out of range (use a port number from 1 to 65535)']],
  ['port 0', door('sequence = 0'),
    ['k.conf:2: port 0 is out of range (use a port number from 1 to 65535)']],
  ['trailing comma', door('sequence = 7000,8000,'),
    ['k.conf:2: sequence "7000,8000," has an empty item (remove the extra comma)']],
  ['unknown protocol', door('sequence = 7000:icmp'),
    ['k.conf:2: unknown protocol "icmp" in "7000:icmp" (use tcp or udp)']],
  ['two colons', door('sequence = 7000:tcp:udp'),
    ['k.conf:2: "7000:tcp:udp" has more than one ":" (write PORT or PORT:tcp or PORT:udp)']],
  ['spaces instead of commas', door('sequence = 7000 8000 9000'),
    ['k.conf:2: "7000 8000 9000" is not a port number (separate ports with commas)']],
  ['empty sequence', door('sequence ='),
    ['k.conf:2: empty sequence (list ports like 7000,8000:udp,9000)']],
  ['33 ports', door(`sequence = ${Array.from({ length: 33 }, (_, i) => 2000 + i).join(',')}`),
    ['k.conf:2: the sequence has 33 ports (knockd allows at most 32)']],
  ['non-numeric timeout', door('sequence = 1\nseq_timeout = abc'),
    ['k.conf:3: Seq_Timeout "abc" is not a number of seconds (use a number of seconds from 1 to 3600)']],
  ['negative timeout', door('sequence = 1\ncmd_timeout = -1'),
    ['k.conf:3: Cmd_Timeout "-1" is not a number of seconds (use a number of seconds from 0 to 2147483)']],
  ['timeout with a unit', door('sequence = 1\ntimeout = 5s'),
    ['k.conf:3: Seq_Timeout "5s" is not a number of seconds (use a number of seconds from 1 to 3600)']],
  ['zero seq_timeout', door('sequence = 1\nseq_timeout = 0'),
    ['k.conf:3: Seq_Timeout 0 is less than 1 second (use a number of seconds from 1 to 3600)']],
  ['timeout beyond the timer range', door('sequence = 1\ncmd_timeout = 9999999'),
    ['k.conf:3: Cmd_Timeout 9999999 is more than 2147483 seconds (use a number of seconds from 0 to 2147483)']],
  ['unknown TCP flag', door('sequence = 1\ntcpflags = syn, sync'),
    ['k.conf:3: unknown TCP flag "sync" (use fin, syn, rst, psh, ack or urg, each optionally prefixed with !)']],
  ['empty TCP flag item', door('sequence = 1\ntcpflags = syn,'),
    ['k.conf:3: TCPFlags "syn," has an empty item (remove the extra comma)']],
  ['contradictory TCP flags across lines', door('sequence = 1\ntcpflags = syn\ntcpflags = ack,!syn'),
    ['k.conf:4: TCPFlags asks for both syn and !syn (keep only one of them)']],
  ['unknown key, near a known one', door('sequense = 1'),
    ['k.conf:2: unknown key "sequense" in door [d] (did you mean Sequence?)',
      'k.conf:1: door [d] has neither Sequence nor One_Time_Sequences (add a line such as Sequence = 7000,8000,9000)']],
  ['unknown key in [options]', '[options]\nlogfil = /tmp/k.log\n',
    ['k.conf:2: unknown key "logfil" in [options] (did you mean LogFile?)']],
  ['unknown key, nothing near', '[options]\nlisten_address = 1\n',
    ['k.conf:2: unknown key "listen_address" in [options] ([options] takes LogFile, PidFile, Interface, Sources, '
      + 'Prefix, StateDir, MaxSources, User)']],
  ['door key in [options]', '[options]\nsequence = 1\n',
    ['k.conf:2: Sequence belongs in a door section, not in [options] (move it under a [door] header)']],
  ['options key in a door', door('sequence = 1\nlogfile = /tmp/x'),
    ['k.conf:3: LogFile belongs in [options], not in door [d] (move it to the [options] section)']],
  ['directive before any section', 'sequence = 1\n[d]\nsequence = 2\n',
    ['k.conf:1: "sequence" comes before any section (put it under [options] or a [door] header)']],
  ['line without "="', door('sequence = 1\nsequence 7000'),
    ['k.conf:3: "sequence 7000" has no "=" (write key = value; only UseSyslog stands alone)']],
  ['UseSyslog with a value', '[options]\nUseSyslog = yes\n',
    ['k.conf:2: UseSyslog takes no value (write just UseSyslog to log to syslog, or remove the line)']],
  ['a line that is only "= value"', door('sequence = 1\n= 2'),
    ['k.conf:3: a line starts with "=" and has no key (write key = value)']],
  ['unclosed section header', '[d\nsequence = 1\n[e]\nsequence = 2\n',
    ['k.conf:1: section header "[d" has no closing "]" (write it as [name])']],
  ['empty section name', '[ ]\nsequence = 1\n',
    ['k.conf:1: empty section name (write [options] or [door name])']],
  ['key given twice', door('sequence = 1\nseq_timeout = 5\ntimeout = 6'),
    ['k.conf:4: Seq_Timeout is set again (first at line 3) (keep only one of them)']],
  ['duplicate door name', '[d]\nsequence = 1\n[d]\nsequence = 2\n',
    ['k.conf:3: door [d] is defined again (first at line 1) '
      + '(give each door a unique name; names are compared ignoring case)']],
  ['duplicate door name in another case', '[openSSH]\nsequence = 1\n[OpenSSH]\nsequence = 2\n',
    ['k.conf:3: door [OpenSSH] is defined again (first [openSSH] at line 1) '
      + '(give each door a unique name; names are compared ignoring case)']],
  ['door without a sequence', '[d]\ncommand = true\n',
    ['k.conf:1: door [d] has neither Sequence nor One_Time_Sequences (add a line such as Sequence = 7000,8000,9000)']],
  ['both Sequence and One_Time_Sequences', door('sequence = 1\none_time_sequences = /nonexistent'),
    ['k.conf:3: door [d] has both Sequence (line 2) and One_Time_Sequences (keep one of them)']],
  ['host name as Target', door('sequence = 1\ntarget = my.host'),
    ['k.conf:3: Target "my.host" is not an IP address (use an IPv4 or IPv6 address such as 10.0.0.50)']],
  ['bad IPv6 Target', door('sequence = 1\ntarget = fd31::1::2'),
    ['k.conf:3: Target "fd31::1::2" is not an IP address (use an IPv4 or IPv6 address such as 10.0.0.50)']],
  ['bad sources', '[options]\nsources = file:, journald, stdin, stdin,\n',
    ['k.conf:2: source "file:" has no path (write file:/var/log/kern.log)',
      'k.conf:2: unknown source "journald" '
        + '(use file:PATH, ulogd:PATH, ulogd-socket:PATH, journal, kmsg or stdin, separated by commas)',
      'k.conf:2: source "stdin" is listed twice (list it once)',
      'k.conf:2: Sources "file:, journald, stdin, stdin," has an empty item (remove the extra comma)']],
  ['MaxSources not a positive integer', '[options]\nmaxsources = 0\n',
    ['k.conf:2: MaxSources "0" is not a positive whole number (use a number such as 100000)']],
  ['unterminated quoted Prefix', '[options]\nprefix = "KNOCK \n',
    ['k.conf:2: Prefix "KNOCK is not a well-formed quoted string (end it with " and write \\" for a quote inside)']],
  ['empty quoted Prefix', '[options]\nprefix = ""\n',
    ['k.conf:2: Prefix is empty (give the log prefix of the firewall rule, e.g. KNOCK)']],
  ['bad User', '[options]\nuser = no body\n',
    ['k.conf:2: User "no body" is not a valid user name (use a system user of its own, such as knocklog)']],
  ['bad Interface', '[options]\ninterface = a-very-long-interface-name\n',
    [`k.conf:2: Interface "a-very-long-interface-name" is not an interface name (${IFACE_HINT})`]],
  ['Interface longer than 15 bytes', '[options]\ninterface = éééééééé\n',
    [`k.conf:2: Interface "éééééééé" is not an interface name (${IFACE_HINT})`]],
  ['Interface with "="', '[options]\ninterface = eth0=\n',
    [`k.conf:2: Interface "eth0=" is not an interface name (${IFACE_HINT})`]],
  ['empty Interface', '[options]\ninterface =\n',
    ['k.conf:2: Interface is empty (give a name such as eth0, or remove the line to count knocks on any interface)']],
  ['Interface in quotes', '[options]\ninterface = ""\n',
    ['k.conf:2: Interface "" is in quotes (knockd.conf takes the name without them, e.g. Interface = eth0; '
      + 'remove the line to count knocks on any interface)']],
  ['blank Prefix', '[options]\nprefix = "   "\n',
    ['k.conf:2: Prefix is blank (give the log prefix of the firewall rule, e.g. KNOCK)']],
  ['User root', '[options]\nuser = root\n', [ROOT_USER('root')]],
  ['User 0', '[options]\nuser = 0\n', [ROOT_USER('0')]],
  ['User 000', '[options]\nuser = 000\n', [ROOT_USER('000')]],
  ['IPv4-mapped Target', door('sequence = 1\ntarget = ::ffff:10.0.0.1'),
    ['k.conf:3: Target "::ffff:10.0.0.1" is an IPv4-mapped IPv6 address, which no log record carries as DST '
      + '(write the IPv4 address: Target = 10.0.0.1)']],
  ['empty PidFile', '[options]\npidfile =\n',
    ['k.conf:2: PidFile is empty (give a value such as /var/run/knockd.pid, or remove the line)']],
];

for (const [name, text, expected] of MALFORMED) {
  test(`malformed: ${name}`, () => {
    assert.deepEqual(errorsOf(text), expected);
  });
}

test('all errors of a file are reported at once, in file order', () => {
  const path = fx('broken.conf');
  assert.throws(() => loadConfig(path), (e: unknown) => {
    assert.ok(e instanceof ConfigError);
    assert.deepEqual(e.errors, [
      `${path}:2: UseSyslog takes no value (write just UseSyslog to log to syslog, or remove the line)`,
      `${path}:3: Prefix is empty (give the log prefix of the firewall rule, e.g. KNOCK)`,
      `${path}:6: "abc" is not a port number (use a port number from 1 to 65535)`,
      `${path}:6: "-1" is not a port number (use a port number from 1 to 65535)`,
      `${path}:6: port 70000 is out of range (use a port number from 1 to 65535)`,
      `${path}:6: sequence "7000,abc,-1,70000," has an empty item (remove the extra comma)`,
      `${path}:7: Seq_Timeout "-5" is not a number of seconds (use a number of seconds from 1 to 3600)`,
      `${path}:8: unknown TCP flag "sync" (use fin, syn, rst, psh, ack or urg, each optionally prefixed with !)`,
      `${path}:10: Target "my.host.example" is not an IP address (use an IPv4 or IPv6 address such as 10.0.0.50)`,
      `${path}:12: door [OpenSSH] is defined again (first [openSSH] at line 5) `
        + '(give each door a unique name; names are compared ignoring case)',
      `${path}:13: unknown protocol "icmp" in "7000:icmp" (use tcp or udp)`,
    ]);
    assert.equal(e.message, e.errors.join('\n'));
    return true;
  });
});

test('one-time sequences: unused lines in order with their line numbers; the first is the sequence', () => {
  const c = loadConfig(fx('onetime.conf'));
  const d = c.doors[0];
  const oneTime = oneTimeOf(d);
  assert.equal(oneTime.path, fx('smtp_sequences'));
  assert.deepEqual(oneTime.entries, [
    { line: 5, sequence: [udp(2002), tcp(3002), udp(4002)] },
    { line: 6, sequence: [tcp(2003), tcp(3003), tcp(4003)] },
  ]);
  assert.deepEqual(sequenceOf(d), oneTime.entries[0]?.sequence);
  assert.deepEqual(d?.tcpFlags, [{ flag: 'fin', negated: false }, { flag: 'ack', negated: true }]);
  assert.deepEqual(readOneTimeSequences(fx('smtp_sequences')), oneTime);
});

test('one-time sequences: an exhausted file is no error; the door has an empty sequence', () => {
  const d = loadConfig(fx('onetime-exhausted.conf')).doors[0];
  assert.deepEqual(sequenceOf(d), []);
  assert.deepEqual(oneTimeOf(d), { path: fx('used_sequences'), entries: [] });
});

test('one-time sequences: missing file, bad lines reported at OTSPATH:LINE', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'knocklog-config-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const conf = join(dir, 'knockd.conf');
  writeFileSync(conf, '[d]\none_time_sequences = seqs\n');
  assert.throws(() => loadConfig(conf), (e: unknown) => {
    assert.deepEqual((e as ConfigError).errors, [
      `${conf}:2: one_time_sequences file ${join(dir, 'seqs')} cannot be read: does not exist `
        + '(create it with one sequence per line, or fix the path)',
    ]);
    return true;
  });
  writeFileSync(join(dir, 'seqs'), ' 1000,2000\n#x\n 1001,,2001\n 1002:icmp\n 1003\n');
  const ots = join(dir, 'seqs');
  const want = [
    `${ots}:3: sequence "1001,,2001" has an empty item (remove the extra comma)`,
    `${ots}:4: unknown protocol "icmp" in "1002:icmp" (use tcp or udp)`,
  ];
  assert.throws(() => loadConfig(conf), (e: unknown) => {
    assert.deepEqual((e as ConfigError).errors, want);
    return true;
  });
  assert.throws(() => readOneTimeSequences(ots), (e: unknown) => {
    assert.deepEqual((e as ConfigError).errors, want);
    return true;
  });
  assert.match(errorsOf('[d]\none_time_sequences = /\n')[0] ?? '',
    /^k\.conf:2: one_time_sequences file \/ cannot be read: is a directory \(/);
});

test('one-time sequences: the file and its directory must be writable, unless only read', () => {
  const files: Record<string, string> = { '/etc/k/seqs': '1,2,3\n' };
  const denied = new Set(['/etc/k/seqs', '/etc/k']);
  const io: ConfigIO = {
    readFile: (p) => {
      const t = files[p];
      if (t === undefined) throw Object.assign(new Error('ENOENT'), { code: 'ENOENT' });
      return t;
    },
    access: (p, mode) => {
      assert.equal(mode, constants.W_OK);
      if (denied.has(p)) throw Object.assign(new Error('EACCES'), { code: 'EACCES' });
    },
    readDir: () => [],
  };
  const text = '[d]\none_time_sequences = /etc/k/seqs\n';
  assert.deepEqual(errorsOf(text, io), [
    'k.conf:2: one_time_sequences file /etc/k/seqs is not writable: permission denied '
      + "(knocklog marks used sequences in it; let the daemon's user write it)",
    'k.conf:2: the directory /etc/k of one_time_sequences file /etc/k/seqs is not writable: permission denied '
      + '(knocklog rewrites the file atomically through a temporary file beside it; '
      + "let the daemon's user write the directory)",
  ]);
  const readOnly = parseConfig(text, 'k.conf', { io, requireWritable: false });
  assert.deepEqual(sequenceOf(readOnly.doors[0]), [tcp(1), tcp(2), tcp(3)]);
});

test('loadConfig: an unreadable config file is a ConfigError; overrides win and are checked', () => {
  assert.throws(() => loadConfig('/nonexistent/knockd.conf'), (e: unknown) => {
    assert.deepEqual((e as ConfigError).errors,
      ['/nonexistent/knockd.conf: cannot read the config file: does not exist (give the right path with -c FILE)']);
    return true;
  });
  const c = loadConfig(fx('full.conf'),
    { sources: ['stdin'], interface: null, prefix: 'FW ', stateDir: '/tmp/s', maxSources: undefined });
  assert.deepEqual([c.options.sources, c.options.interface, c.options.prefix, c.options.stateDir, c.options.maxSources],
    [['stdin'], null, 'FW ', '/tmp/s', 5000]);
  assert.throws(() => loadConfig(fx('full.conf'), { sources: ['file:'], maxSources: 0 }), (e: unknown) => {
    assert.deepEqual((e as ConfigError).errors, [
      'command line: source "file:" has no path (write file:/var/log/kern.log)',
      'command line: max sources 0 is not a positive whole number (use a number such as 100000)',
    ]);
    return true;
  });
  assert.throws(() => loadConfig(fx('full.conf'), { prefix: '   ', user: '0' }), (e: unknown) => {
    assert.deepEqual((e as ConfigError).errors, [
      'command line: prefix "   " is blank or has a control character '
        + '(give the log prefix of the firewall rule, e.g. KNOCK)',
      `command line: ${ROOT_USER('0').slice('k.conf:2: '.length)}`,
    ]);
    return true;
  });
});

test('knocklog check: summary on stdout, exit 0', () => {
  const path = fx('seed-openssh.conf');
  const out = execFileSync(process.execPath, [CLI, 'check', '-c', path], { encoding: 'utf8' });
  const lines = out.split('\n');
  assert.equal(lines[0], `${path}: OK, 2 doors`);
  const at = lines.indexOf(`[openSSH] (${path}:4)`);
  assert.ok(at > 0, out);
  assert.deepEqual(lines.slice(at + 1, at + 12), [
    '  sequence         7000:tcp,8000:tcp,9000:tcp',
    '  seq_timeout      5 s',
    '  tcpflags         syn',
    "  target           (the host's addresses)",
    '  start_command    /sbin/iptables -A INPUT -s %IP% -p tcp --dport 22 -j ACCEPT',
    '  start_command_6  /sbin/iptables -A INPUT -s %IP% -p tcp --dport 22 -j ACCEPT',
    '  cmd_timeout      10 s',
    '  stop_command     (none)',
    '  stop_command_6   (none)',
    '  one_time         no',
    `[closeSSH] (${path}:10)`,
  ]);
  const ots = spawnSync(process.execPath, [CLI, 'check', '--config', fx('onetime.conf')], { encoding: 'utf8' });
  assert.equal(ots.status, 0);
  assert.match(ots.stdout, new RegExp(`  one_time         ${fx('smtp_sequences')}: 2 unused, current from line 5\n`));
  assert.match(ots.stdout, / {2}sequence {9}2002:udp,3002:tcp,4002:udp\n/);
  assert.equal(ots.stderr, '');
  const spent = spawnSync(process.execPath, [CLI, 'check', '-c', fx('onetime-exhausted.conf')], { encoding: 'utf8' });
  assert.equal(spent.status, 0);
  assert.equal(spent.stderr,
    'knocklog check: warning: no more sequences left in the one time sequences file for door opencloseSMTP '
      + '--> the door is disabled\n');
});

test('knocklog check warns (exit 0) when a stop_command deletes another rule than its start_command adds', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'knocklog-config-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'knockd.conf');
  writeFileSync(path, '[ssh]\n  sequence = 7000,8000\n'
    + '  start_command = iptables -I INPUT -s %IP% -p tcp --dport 22 -j ACCEPT\n'
    + '  stop_command = iptables -D INPUT -s %IP% -p tcp --dport 2222 -j ACCEPT\n');
  const r = spawnSync(process.execPath, [CLI, 'check', '-c', path], { encoding: 'utf8' });
  assert.equal(r.status, 0);
  assert.match(r.stderr, new RegExp(`^knocklog check: warning: ${path.replace(/[.]/g, '\\.')}:1: door ssh: `
    + 'stop_command does not delete the rule start_command adds .*Fix: give the stop the same table, chain and '
    + 'match as the start\n$'));
});

test('knocklog check: every error on stderr, nothing on stdout, exit 1', () => {
  const path = fx('broken.conf');
  const r = spawnSync(process.execPath, [CLI, 'check', '-c', path], { encoding: 'utf8' });
  assert.equal(r.status, 1);
  assert.equal(r.stdout, '');
  const lines = r.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 12);
  assert.equal(lines[0],
    `${path}:2: UseSyslog takes no value (write just UseSyslog to log to syslog, or remove the line)`);
  assert.equal(lines[11], `knocklog check: 11 errors in ${path}`);
  const missing = spawnSync(process.execPath, [CLI, 'check', '-c', '/nonexistent.conf'], { encoding: 'utf8' });
  assert.equal(missing.status, 1);
  assert.equal(missing.stderr,
    '/nonexistent.conf: cannot read the config file: does not exist (give the right path with -c FILE)\n'
      + 'knocklog check: 1 error in /nonexistent.conf\n');
});

test('property: formatSequence and parseSequence round-trip every valid sequence', () => {
  const step = fc.record({
    proto: fc.constantFrom('tcp' as const, 'udp' as const), port: fc.integer({ min: 1, max: 65535 }) })
    .map(({ proto, port }) => ({ proto, port }));
  fc.assert(fc.property(fc.array(step, { minLength: 1, maxLength: 32 }), (steps) => {
    const parsed = parseSequence(formatSequence(steps));
    assert.ok(parsed.ok);
    assert.deepEqual(parsed.value, steps);
  }));
});

test('property: any text gives a Config or a ConfigError whose every message is PATH:LINE: ... (...)', () => {
  const piece = fc.constantFrom('[options]', '[d]', '[', ']', '=', ',', ':', '#', ' ', '\n', '\r\n', 'sequence',
    'tcpflags',
    'UseSyslog', 'target', 'command', '7000', '-1', 'udp', 'syn', '!', '"', 'prefix', 'timeout', '2.5', 'x');
  const text = fc.array(piece, { maxLength: 60 }).map((a) => a.join(''));
  fc.assert(fc.property(text, (t) => {
    try {
      const c = parseConfig(t, 'k.conf', { requireWritable: false });
      for (const d of c.doors) assert.ok(sequenceOf(d).length >= 1 && sequenceOf(d).length <= 32);
    } catch (e) {
      assert.ok(e instanceof ConfigError, String(e));
      assert.ok(e.errors.length > 0);
      for (const m of e.errors) assert.match(m, /^k\.conf:\d+: .+ \(.+\)$/s);
    }
  }), { numRuns: 2000 });
});

test('knocklog check refuses the audit\'s configs (L6, M2) and an empty Interface, each at FILE:LINE', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'knocklog-check-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const conf = join(dir, 'knockd.conf');
  writeFileSync(conf, [
    '[options]', '  Prefix = "   "', '  User = root', '  Interface = ""',
    '[door1]', '  sequence = 7000,8000', '  seq_timeout = 0.001', '  target = ::ffff:10.0.0.1',
    '  start_command = echo open %IP%', '  stop_command = echo close %IP% \0 >> /tmp/x',
    `  stop_command_6 = # ${'x'.repeat(140000)} %IP%`, '',
  ].join('\n'));
  const r = spawnSync(process.execPath, [CLI, 'check', '-c', conf], { encoding: 'utf8' });
  assert.equal(r.status, 1);
  assert.equal(r.stdout, '');
  const where = r.stderr.trimEnd().split('\n').map((l) => /^(.*?:\d+): /.exec(l)?.[1] ?? l);
  const lines = [2, 3, 4, 7, 8, 10, 11].map((n) => `${conf}:${n}`);
  assert.deepEqual(where, [...lines, `knocklog check: 7 errors in ${conf}`]);
});
