import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { canonicalAddress, sourceRefusal } from '../src/net.js';
import type { Door, FixedDoor } from '../src/types.js';
import { checkAddress, expandCommand, runCommand } from '../src/actions/command.js';
import { Executor, type ExecutorOptions } from '../src/actions/executor.js';
import type { Log } from '../src/log.js';
import { loadState, saveState, STATE_FILE } from '../src/actions/state.js';

function door(name: string, over: Partial<FixedDoor> = {}): FixedDoor {
  return {
    kind: 'fixed', name, where: 'test.conf:1', sequence: [{ proto: 'tcp', port: 7000 }], seqTimeoutMs: 25_000,
    tcpFlags: [], startCommand: null, startCommand6: null, stopCommand: null, stopCommand6: null,
    cmdTimeoutMs: 10_000, target: null, ...over,
  };
}

class RecordingLogger implements Log {
  readonly lines: { level: 'info' | 'warn' | 'error'; msg: string }[] = [];
  info(msg: string): void { this.lines.push({ level: 'info', msg }); }
  warn(msg: string): void { this.lines.push({ level: 'warn', msg }); }
  error(msg: string): void { this.lines.push({ level: 'error', msg }); }
  matching(re: RegExp, level?: string): string[] {
    return this.lines.filter((l) => re.test(l.msg) && (level === undefined || l.level === level)).map((l) => l.msg);
  }
}

async function waitFor(what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * A temp dir and a way to make executors in it. When the test ends, also when
 * it fails, the executors are shut down (their doors closed) before the dir goes.
 */
function sandbox(t: TestContext) {
  const dir = mkdtempSync(join(tmpdir(), 'knocklog-actions-'));
  const executors: Executor[] = [];
  t.after(async () => {
    for (const ex of executors) await ex.closeAll(10_000);
    rmSync(dir, { recursive: true, force: true });
  });
  const executor = (opts: Partial<ExecutorOptions> & Pick<ExecutorOptions, 'doors' | 'stateDir'>) => {
    const log = new RecordingLogger();
    const ex = new Executor({ log, ...opts });
    executors.push(ex);
    return { ex, log };
  };
  return { dir, executor };
}

function lines(path: string): string[] {
  return existsSync(path) ? readFileSync(path, 'utf8').split('\n').filter((l) => l !== '') : [];
}

/**
 * A node process that runs `body` with Executor, doors, stateDir and a quiet logger in scope;
 * killed at the test's end.
 */
function executorProcess(t: TestContext, doors: Door[], stateDir: string, body: string): ChildProcess {
  const script = `
    const { Executor } = await import(process.env.EXECUTOR);
    const doors = JSON.parse(process.env.DOORS);
    const stateDir = process.env.STATE_DIR;
    const quiet = { info() {}, warn() {}, error() {} };
    ${body}`;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
    env: {
      ...process.env,
      EXECUTOR: new URL('../src/actions/executor.js', import.meta.url).href,
      DOORS: JSON.stringify(doors),
      STATE_DIR: stateDir,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  t.after(() => child.kill('SIGKILL'));
  return child;
}

/** An executor in a child process runs `opens` (with `ex` made from `options`), then is killed with SIGKILL. */
async function crashAfter(t: TestContext, doors: Door[], stateDir: string, options: string, opens: string) {
  const child = executorProcess(t, doors, stateDir, `
    const ex = new Executor({ doors, stateDir, log: quiet, ${options} });
    ${opens};
    process.stdout.write('ready\\n');`);
  let out = '';
  child.stdout!.on('data', (b: Buffer) => { out += b.toString(); });
  await waitFor('the child to open its doors', () => out.includes('ready'));
  child.kill('SIGKILL');
  await new Promise((r) => child.once('exit', r));
}

function stateOpen(dir: string): { door: string; src: string; closeAt: number; stopCommand: string | null }[] {
  return (JSON.parse(readFileSync(join(dir, STATE_FILE), 'utf8')) as { open: [] }).open;
}

/** Processes of a process group that are not zombies, as ps sees them. */
async function liveGroupMembers(pgid: number): Promise<string[]> {
  const r = await runCommand('ps -eo pgid=,pid=,stat=,comm=', { timeoutMs: 5000 });
  assert.equal(r.status, 0, r.output);
  return r.output.split('\n').filter((l) => {
    const [g, , stat] = l.trim().split(/\s+/);
    return Number(g) === pgid && !stat!.startsWith('Z');
  });
}

test('expandCommand replaces every %IP% and leaves other %...% alone', () => {
  assert.equal(
    expandCommand('iptables -I INPUT -s %IP% -j ACCEPT; logger %IP% %DOOR%', '10.0.0.2'),
    'iptables -I INPUT -s 10.0.0.2 -j ACCEPT; logger 10.0.0.2 %DOOR%',
  );
  assert.equal(expandCommand('ip6tables -s %IP%', 'fd31::2'), 'ip6tables -s fd31::2');
  assert.equal(expandCommand('no placeholder', '1.2.3.4'), 'no placeholder');
});

test('expandCommand rejects anything but a canonical address', () => {
  const bad = [
    '1.2.3.4; rm -rf /', '::FFFF:1.2.3.4', 'fd31:0000:0000:0000:0000:0000:0000:0002', '010.0.0.1', '',
    '$(id)', '`id`', ' 1.2.3.4', '1.2.3.4\n', 'FD31::2', '1.2.3.4 && touch x',
  ];
  for (const b of bad) assert.throws(() => expandCommand('echo %IP%', b), /not a canonical IPv4 or IPv6 address/, b);
  // Any string at all: either it is its own canonical form and may be a source, or it never reaches the shell.
  fc.assert(
    fc.property(fc.oneof(fc.string(), fc.ipV4(), fc.ipV6()), (s) => {
      if (canonicalAddress(s) === s && sourceRefusal(s, true) === null) {
        assert.match(expandCommand('%IP%', s), /^[0-9a-f.:]+$/);
      } else {
        assert.throws(() => expandCommand('%IP%', s));
      }
    }),
  );
});

test('checkAddress refuses martian sources; loopback only for a loopback Target (audit L9)', () => {
  for (const a of ['0.0.0.0', '255.255.255.255', '224.0.0.1', '::', 'ff02::1', '::ffff:10.0.0.2']) {
    assert.throws(() => checkAddress(a), /refusing to put .* into a command: it is /, a);
    assert.throws(() => checkAddress(a, '127.0.0.1'), /refusing/, a);
    assert.throws(() => expandCommand('echo %IP%', a), /refusing/, a);
  }
  for (const a of ['127.0.0.1', '::1']) {
    assert.throws(() => checkAddress(a, null), /loopback/, a);
    assert.throws(() => checkAddress(a, '10.0.0.1'), /loopback/, a);
    checkAddress(a, a === '::1' ? '::1' : '127.0.0.1');
  }
  checkAddress('10.0.0.2', null);
});

test('runCommand reports status and output, and never throws for a failing command', async () => {
  const ok = await runCommand('echo out; echo err >&2', { timeoutMs: 5000 });
  assert.deepEqual([ok.status, ok.signal, ok.timedOut], [0, null, false]);
  assert.match(ok.output, /out/);
  assert.match(ok.output, /err/);
  const bad = await runCommand('exit 3', { timeoutMs: 5000 });
  assert.deepEqual([bad.status, bad.timedOut], [3, false]);
  const missing = await runCommand('/nonexistent/iptables -L', { timeoutMs: 5000 });
  assert.equal(missing.status, 127);
  const big = await runCommand("head -c 300000 /dev/zero | tr '\\0' a", { timeoutMs: 5000 });
  assert.equal(big.status, 0);
  assert.ok(big.output.length < 70_000, `output bounded, got ${big.output.length}`);
  assert.match(big.output, /output cut at 65536 bytes/);
});

test('runCommand kills a hung command and all it started at the limit, SIGKILL when SIGTERM is ignored', async () => {
  // The first sleep dies of SIGTERM; the shell and the second sleep ignore it, so only SIGKILL ends them.
  const r = await runCommand('sleep 1000 & trap "" TERM; sleep 1000; wait', { timeoutMs: 200 });
  assert.equal(r.timedOut, true);
  assert.equal(r.status, null);
  assert.ok(r.pid !== null);
  assert.deepEqual(await liveGroupMembers(r.pid!), []);
  const plain = await runCommand('sleep 1000', { timeoutMs: 100 });
  assert.deepEqual([plain.timedOut, plain.signal], [true, 'SIGTERM']);
  assert.deepEqual(await liveGroupMembers(plain.pid!), []);
});

test('commands never interleave: starts and stops of several sources run one at a time', async (t) => {
  const { dir, executor } = sandbox(t);
  const f = join(dir, 'markers');
  const cmd = (what: string) => `echo "${what} begin %IP%" >> '${f}'; sleep 0.1; echo "${what} end %IP%" >> '${f}'`;
  const { ex } = executor({
    doors: [door('ssh', { startCommand: cmd('start'), stopCommand: cmd('stop'), cmdTimeoutMs: 50 })],
    stateDir: dir,
  });
  await Promise.all(['10.0.0.1', '10.0.0.2', '10.0.0.3'].map((src) => ex.open('ssh', src)));
  await waitFor('all doors to close', () => ex.openDoors().length === 0);
  const got = lines(f);
  assert.equal(got.length, 12);
  for (let i = 0; i < got.length; i += 2) {
    assert.equal(got[i + 1], got[i]!.replace('begin', 'end'), `a command ran inside another: ${got.join(' | ')}`);
  }
});

test('a re-knock on an open door does not run start again and moves its close later', async (t) => {
  const { dir, executor } = sandbox(t);
  const starts = join(dir, 'starts');
  const { ex, log } = executor({
    doors: [door('ssh', { startCommand: `echo %IP% >> '${starts}'`, stopCommand: 'true', cmdTimeoutMs: 60_000 })],
    stateDir: dir,
  });
  await ex.open('ssh', '10.0.0.2');
  const [first] = ex.openDoors();
  await waitFor('the clock to move', () => Date.now() > first!.closeAt - 60_000 + 5);
  await ex.open('ssh', '10.0.0.2');
  const [second] = ex.openDoors();
  assert.ok(second!.closeAt > first!.closeAt, 'closeAt moved later');
  await ex.extend('ssh', '10.0.0.2');
  assert.deepEqual(lines(starts), ['10.0.0.2']);
  assert.equal(log.matching(/^ssh: running command: /).length, 1);
  assert.equal(stateOpen(dir)[0]!.closeAt, ex.openDoors()[0]!.closeAt, 'the new closeAt is persisted');
  // extend of a door not open opens it
  await ex.extend('ssh', '10.0.0.3');
  assert.deepEqual(lines(starts), ['10.0.0.2', '10.0.0.3']);
});

test('the close runs cmd_timeout after the start command finished, with knockd\'s log lines', async (t) => {
  const { dir, executor } = sandbox(t);
  const started = join(dir, 'started');
  const stopped = join(dir, 'stopped');
  const { ex, log } = executor({
    doors: [door('ssh', {
      startCommand: `sleep 0.4; date +%s%3N > '${started}'`,
      stopCommand: `date +%s%3N > '${stopped}'`,
      cmdTimeoutMs: 300,
    })],
    stateDir: dir,
  });
  await ex.open('ssh', '10.0.0.2');
  await waitFor('the stop command', () => existsSync(stopped) && lines(stopped).length === 1);
  const gap = Number(lines(stopped)[0]) - Number(lines(started)[0]);
  // Counted from the start's beginning, the stop would follow the start's end at once.
  assert.ok(gap >= 295, `stop ran ${gap} ms after the start finished, cmd_timeout is 300`);
  const msgs = log.lines.map((l) => l.msg);
  const timeoutAt = msgs.indexOf('10.0.0.2: ssh: command timeout');
  assert.ok(timeoutAt > 0);
  assert.equal(msgs[timeoutAt + 1], `ssh: running command: date +%s%3N > '${stopped}'`);
  await waitFor('the state to be empty', () => stateOpen(dir).length === 0);
});

test('M2: runCommand resolves, never throws, when spawn() itself throws (a NUL byte, E2BIG)', async () => {
  for (const cmd of ['echo a\u0000b', `: ${'x'.repeat(140_000)}`]) {
    const r = await runCommand(cmd, { timeoutMs: 5000 });
    assert.deepEqual([r.status, r.pid, r.timedOut], [null, null, false]);
    assert.match(r.output, /^cannot run \/bin\/sh: /);
  }
});

test('M2: a stop command that cannot be spawned is a failure that is retried, '
  + 'never an open door left for good', async (t) => {
  const { dir, executor } = sandbox(t);
  const { ex, log } = executor({
    doors: [door('ssh', { startCommand: 'true', stopCommand: `: ${'x'.repeat(140_000)}`, cmdTimeoutMs: 20 })],
    stateDir: dir,
    retry: { minMs: 20, maxMs: 40 },
  });
  await ex.open('ssh', '10.0.0.2');
  await waitFor('two failed attempts', () => log.matching(/stop command failed \(attempt 2\)/, 'error').length === 1);
  assert.ok(log.matching(/^ssh: the command could not be started: cannot run \/bin\/sh: .*E2BIG/, 'error').length >= 2);
  assert.equal(log.matching(/internal error/).length, 0);
  await ex.closeAll(100);
});

test('a failing stop command is retried with backoff until it succeeds', async (t) => {
  const { dir, executor } = sandbox(t);
  const counter = join(dir, 'count');
  // Fails on attempts 1 and 2, succeeds on the third.
  const stop = `n=$(cat '${counter}' 2>/dev/null || echo 0); n=$((n+1)); echo $n > '${counter}'; [ $n -ge 3 ]`;
  const { ex, log } = executor({
    doors: [door('ssh', { startCommand: 'true', stopCommand: stop, cmdTimeoutMs: 20 })],
    stateDir: dir,
    retry: { minMs: 20, maxMs: 40 },
  });
  await ex.open('ssh', '10.0.0.2');
  await waitFor('the door to close', () => ex.openDoors().length === 0);
  assert.equal(readFileSync(counter, 'utf8').trim(), '3');
  assert.equal(log.matching(/^ssh: command returned non-zero status code \(1\)$/, 'error').length, 2);
  assert.deepEqual(
    log.matching(/stop command failed/, 'error').map((m) => m.replace(/.*\(attempt (\d)\).*in (\d+) ms.*/, '$1:$2')),
    ['1:20', '2:40'],
  );
  await waitFor('the state to be empty', () => stateOpen(dir).length === 0);
});

/**
 * A stand-in for iptables at DIR/NAME: an add (-I, -A) succeeds; anything else is counted in DIR/count and does
 * what `behaviour` says.
 */
function fakeIptables(dir: string, behaviour: string, name = 'iptables'): string {
  const path = join(dir, name);
  writeFileSync(path, `#!/bin/sh\ncase "$1" in -I|-A) exit 0;; esac\necho x >> '${join(dir, 'count')}'\n`
    + `${behaviour}\n`, { mode: 0o755 });
  return path;
}

// What iptables 1.8.9 prints (and exits 1 with) for -D of a rule that is not there, measured.
const NO_SUCH_RULE = "echo 'iptables: Bad rule (does a matching rule exist in that chain?).' >&2; exit 1";

test('a stop that iptables answers with "does a matching rule exist" is not retried: the rule is gone', async (t) => {
  // Someone removed the rule by hand (iptables -D, -F): the close finds nothing to delete. Retrying would log an
  // error every minute for ever about a door that is shut; the door counts as closed, with a warning.
  const { dir, executor } = sandbox(t);
  const iptables = fakeIptables(dir, NO_SUCH_RULE);
  const { ex, log } = executor({
    doors: [door('ssh', { startCommand: `${iptables} -I INPUT -s %IP% -p tcp --dport 22 -j ACCEPT`,
      stopCommand: `${iptables} -D INPUT -s %IP% -p tcp --dport 22 -j ACCEPT`, cmdTimeoutMs: 20 })],
    stateDir: dir,
    retry: { minMs: 20, maxMs: 40 },
  });
  await ex.open('ssh', '10.0.0.2');
  await waitFor('the door to close', () => ex.openDoors().length === 0);
  await new Promise((r) => setTimeout(r, 200)); // time for retries, if any
  assert.equal(lines(join(dir, 'count')).length, 1, 'the stop ran once');
  assert.equal(log.matching(/stop command failed/, 'error').length, 0);
  assert.equal(log.matching(/the rule to delete is not there .*counts as closed/, 'warn').length, 1);
  await waitFor('the state to be empty', () => stateOpen(dir).length === 0);
});

test('"does a matching rule exist" is retried unless the stop is one delete of just what the start added',
  async (t) => {
    // A compound stop's later parts may not have run; a start that is not one add, or adds another rule (another
    // target, another iptables, a port name that meant another port then), leaves its rule whatever the stop
    // says; a rule for two addresses may be half gone; and a held lock is a real failure. Each is retried until
    // the stop succeeds (its second run).
    const LOCKED = "echo 'iptables: Bad rule (does a matching rule exist in that chain?).'; "
      + "echo 'Another app is currently holding the xtables lock.'; exit 1";
    for (const [name, start, stop, behaviour] of [
      ['compound stop', 'I INPUT -s %IP% -j ACCEPT', 'D INPUT -s %IP% -j ACCEPT && IPT -D INPUT -s %IP% -j DROP',
        NO_SUCH_RULE],
      ['another error', 'I INPUT -s %IP% -j ACCEPT', 'D INPUT -s %IP% -j ACCEPT', LOCKED],
      ['compound start', 'I INPUT -s %IP% -j ACCEPT && true', 'D INPUT -s %IP% -j ACCEPT', NO_SUCH_RULE],
      ['another target', 'I INPUT -s %IP% -j ACCEPT', 'D INPUT -s %IP% -j REJECT', NO_SUCH_RULE],
      ['two addresses', 'I INPUT -s %IP%,10.9.9.9 -j ACCEPT', 'D INPUT -s %IP%,10.9.9.9 -j ACCEPT', NO_SUCH_RULE],
      ['another iptables', 'I INPUT -s %IP% -j ACCEPT', 'D INPUT -s %IP% -j ACCEPT', NO_SUCH_RULE],
      // Looked up in /etc/services by each run: it may have changed between the start and the stop.
      ['a port name', 'I INPUT -s %IP% -p tcp --dport ssh -j ACCEPT', 'D INPUT -s %IP% -p tcp --dport 22 -j ACCEPT',
        NO_SUCH_RULE],
      ['one port name', 'I INPUT -s %IP% -p tcp --dport ssh -j ACCEPT',
        'D INPUT -s %IP% -p tcp --dport ssh -j ACCEPT', NO_SUCH_RULE],
    ] as const) {
      const { dir, executor } = sandbox(t);
      const second = `[ $(wc -l < '${join(dir, 'count')}') -ge 2 ] && exit 0; ${behaviour}`;
      const ipt = fakeIptables(dir, second, 'iptables-legacy');
      const other = name === 'another iptables' ? fakeIptables(dir, second, 'iptables-nft') : ipt;
      const { ex } = executor({
        doors: [door('ssh', { startCommand: `${ipt} -${start}`, stopCommand: `${other} -${stop.replace('IPT', other)}`,
          cmdTimeoutMs: 20 })],
        stateDir: dir,
        retry: { minMs: 20, maxMs: 40 },
      });
      await ex.open('ssh', '10.0.0.2');
      await waitFor(`${name}: the door to close`, () => ex.openDoors().length === 0);
      assert.ok(lines(join(dir, 'count')).length >= 2, `${name}: retried until it succeeded`);
    }
  });

test('a hung start command is killed at the command limit and reported; the door still closes', async (t) => {
  const { dir, executor } = sandbox(t);
  const stopped = join(dir, 'stopped');
  const { ex, log } = executor({
    doors: [door('ssh', { startCommand: 'sleep 1000', stopCommand: `touch '${stopped}'`, cmdTimeoutMs: 20 })],
    stateDir: dir,
    commandTimeoutMs: 150,
  });
  await ex.open('ssh', '10.0.0.2');
  assert.equal(log.matching(/^ssh: command did not finish within 150 ms and was killed/).length, 1);
  await waitFor('the stop command', () => existsSync(stopped));
});

test('open doors survive a crash: a new Executor closes overdue ones at once and pending ones on time', async (t) => {
  const { dir, executor } = sandbox(t);
  const marks = join(dir, 'marks');
  const doors = [
    door('short', { startCommand: `echo start short >> '${marks}'`,
      stopCommand: `echo "stop short $(date +%s%3N)" >> '${marks}'`, cmdTimeoutMs: 1000 }),
    door('long', { startCommand6: `echo start long >> '${marks}'`,
      stopCommand6: `echo "stop long $(date +%s%3N)" >> '${marks}'`, cmdTimeoutMs: 6500 }),
  ];
  // The crashing process's clock lags 5 s: its doors are as old as if it had
  // died 5 s ago, so 'short' is overdue and 'long' is due in about 1.5 s.
  await crashAfter(t, doors, dir, 'now: () => Date.now() - 5000',
    "await Promise.all([ex.open('short', '10.0.0.1'), ex.open('long', 'fd31::2')])");

  const persisted = stateOpen(dir);
  assert.deepEqual(persisted.map((r) => [r.door, r.src, r.stopCommand]).sort(), [
    ['long', 'fd31::2', doors[1]!.stopCommand6],
    ['short', '10.0.0.1', doors[0]!.stopCommand],
  ]);
  const longCloseAt = persisted.find((r) => r.door === 'long')!.closeAt;
  assert.ok(persisted.find((r) => r.door === 'short')!.closeAt < Date.now(), 'short is overdue');

  const { ex } = executor({ doors, stateDir: dir });
  await ex.restore();
  await waitFor('both stop commands', () => lines(marks).length === 4);
  const got = lines(marks);
  assert.deepEqual(got.slice(0, 2).sort(), ['start long', 'start short'], 'starts are not run again');
  const stopShort = Number(/^stop short (\d+)$/.exec(got[2]!)?.[1]);
  const stopLong = Number(/^stop long (\d+)$/.exec(got[3]!)?.[1]);
  assert.ok(stopShort < longCloseAt, 'the overdue door closed without waiting for the pending one');
  assert.ok(stopLong >= longCloseAt - 5, `the pending door closed at its time: ${stopLong} vs ${longCloseAt}`);
  await waitFor('the state to be empty', () => stateOpen(dir).length === 0);
});

test('a pending close keeps the process alive; once it ran, the process exits by itself', async (t) => {
  const { dir } = sandbox(t);
  const stopped = join(dir, 'stopped');
  const doors = [door('ssh', { startCommand: 'true', stopCommand: `touch '${stopped}'`, cmdTimeoutMs: 200 })];
  const child = executorProcess(t, doors, dir, `
    const ex = new Executor({ doors, stateDir, log: quiet });
    await ex.open('ssh', '10.0.0.2');`);
  const code = await new Promise((r) => child.once('exit', r));
  assert.equal(code, 0);
  assert.ok(existsSync(stopped), 'the process did not exit before the close ran');
  assert.deepEqual(stateOpen(dir), []);
});

test('closeAll runs every pending stop now and then refuses opens', async (t) => {
  const { dir, executor } = sandbox(t);
  const stops = join(dir, 'stops');
  const { ex, log } = executor({
    doors: [door('ssh', { startCommand: 'true', stopCommand: `echo %IP% >> '${stops}'`, cmdTimeoutMs: 3_600_000 })],
    stateDir: dir,
  });
  await Promise.all([ex.open('ssh', '10.0.0.1'), ex.open('ssh', '10.0.0.2')]);
  await ex.closeAll(5000);
  assert.deepEqual(lines(stops).sort(), ['10.0.0.1', '10.0.0.2']);
  assert.deepEqual(stateOpen(dir), []);
  await ex.open('ssh', '10.0.0.3');
  assert.equal(lines(stops).length, 2);
  assert.equal(log.matching(/10\.0\.0\.3: ssh: shutting down, the door is not opened/, 'warn').length, 1);
});

test('closeAll gives up at its deadline and leaves what is still open in the state file', async (t) => {
  const { dir, executor } = sandbox(t);
  const done = join(dir, 'done');
  const { ex, log } = executor({
    doors: [door('ssh', { startCommand: 'true', stopCommand: `sleep 0.5; touch '${done}'`, cmdTimeoutMs: 3_600_000 })],
    stateDir: dir,
  });
  await ex.open('ssh', '10.0.0.1');
  await ex.closeAll(50);
  assert.equal(log.matching(/not closed within 50 ms: 10\.0\.0\.1: ssh .*close at the next start/, 'warn').length, 1);
  assert.deepEqual(stateOpen(dir).map((r) => r.src), ['10.0.0.1']);
  // The stop already running finishes and is recorded.
  await waitFor('the running stop to finish', () => existsSync(done) && stateOpen(dir).length === 0);
});

test('a corrupt state file is set aside with a warning, and the executor starts empty', async (t) => {
  const { dir, executor } = sandbox(t);
  const garbage = '{"version":1,"open":[{"door":"ssh"';
  writeFileSync(join(dir, STATE_FILE), garbage);
  const { ex, log } = executor({ doors: [], stateDir: dir });
  await ex.restore();
  assert.deepEqual(ex.openDoors(), []);
  const warns = log.matching(/open-doors\.json is corrupt \(not JSON: .*\); kept it as .*corrupt-/, 'warn');
  assert.equal(warns.length, 1);
  const aside = readdirSync(dir).filter((n) => n.startsWith(`${STATE_FILE}.corrupt-`));
  assert.equal(aside.length, 1);
  assert.equal(readFileSync(join(dir, aside[0]!), 'utf8'), garbage);
  assert.ok(!existsSync(join(dir, STATE_FILE)));
  // Valid JSON of the wrong shape is corrupt too; a missing file is simply empty.
  writeFileSync(join(dir, STATE_FILE), JSON.stringify({ version: 1, open: [{ door: 'ssh', src: '10.0.0.1' }] }));
  assert.match((await loadState(dir))?.corrupt?.reason ?? '', /open\[0\] lacks/);
  assert.deepEqual(await loadState(join(dir, 'nope')), { open: [], corrupt: null });
});

test('the state file is replaced atomically: readers always see a whole file, no temp file stays', async (t) => {
  const { dir, executor } = sandbox(t);
  const { ex } = executor({
    doors: [door('ssh', { startCommand: 'true', stopCommand: 'true', cmdTimeoutMs: 3_600_000 })],
    stateDir: join(dir, 'state'),
  });
  let writing = true;
  let reads = 0;
  const reader = (async () => {
    while (writing) {
      let text: string;
      try {
        text = await readFile(join(dir, 'state', STATE_FILE), 'utf8');
      } catch {
        continue; // not written yet
      }
      JSON.parse(text);
      reads++;
    }
  })();
  for (let i = 0; i < 20; i++) await ex.open('ssh', `10.0.1.${i}`);
  writing = false;
  await reader;
  assert.ok(reads > 0);
  assert.equal(stateOpen(join(dir, 'state')).length, 20);
  assert.deepEqual(readdirSync(join(dir, 'state')), [STATE_FILE]);
  assert.equal(statSync(join(dir, 'state', STATE_FILE)).mode & 0o777, 0o600);
  // the functions themselves round-trip
  const rec = { door: 'd', src: 'fd31::2', closeAt: 123, stopCommand: null };
  await saveState(dir, [rec]);
  assert.deepEqual(await loadState(dir), { open: [rec], corrupt: null });
});

test('IPv6 sources use the _6 commands; an empty Start_Command_6 runs nothing and closes nothing', async (t) => {
  const { dir, executor } = sandbox(t);
  const ran = join(dir, 'ran');
  const { ex } = executor({
    doors: [
      door('both', {
        startCommand: `echo v4 %IP% >> '${ran}'`, startCommand6: `echo v6 %IP% >> '${ran}'`,
        stopCommand: `echo stop4 %IP% >> '${ran}'`, stopCommand6: `echo stop6 %IP% >> '${ran}'`, cmdTimeoutMs: 20,
      }),
      door('v4only', {
        startCommand: `echo v4only >> '${ran}'`, startCommand6: '',
        stopCommand: `echo x >> '${ran}'`, stopCommand6: `echo x >> '${ran}'`, cmdTimeoutMs: 3_600_000,
      }),
    ],
    stateDir: dir,
  });
  await ex.open('v4only', 'fd31::2');
  assert.deepEqual(ex.openDoors(), [], 'nothing ran, so nothing is kept open to be closed');
  await ex.open('both', 'fd31::2');
  await waitFor('door both to close', () => lines(ran).length === 2);
  await ex.closeAll(5000);
  assert.deepEqual(lines(ran), ['v6 fd31::2', 'stop6 fd31::2']);
});

test('a malformed source address or unknown door runs nothing', async (t) => {
  const { dir, executor } = sandbox(t);
  const pwned = join(dir, 'pwned');
  const { ex, log } = executor({
    doors: [door('ssh', { startCommand: 'echo %IP%', stopCommand: 'true' })],
    stateDir: dir,
  });
  await ex.open('ssh', `1.2.3.4; touch '${pwned}'`);
  await ex.open('ssh', '::FFFF:1.2.3.4');
  await ex.open('nosuch', '10.0.0.1');
  assert.ok(!existsSync(pwned));
  assert.deepEqual(ex.openDoors(), []);
  assert.equal(log.matching(/not a canonical IPv4 or IPv6 address/, 'error').length, 2);
  assert.equal(log.matching(/nosuch: no such door in the configuration/, 'error').length, 1);
  assert.equal(log.matching(/running command/).length, 0);
});

test('after a config reload, a removed door still closes with its stored stop command', async (t) => {
  const { dir, executor } = sandbox(t);
  const stopped = join(dir, 'stopped');
  const { ex } = executor({
    doors: [door('old', { startCommand: 'true', stopCommand: `echo %IP% > '${stopped}'`, cmdTimeoutMs: 100 })],
    stateDir: dir,
  });
  await ex.open('old', '10.0.0.9');
  ex.replaceDoors(new Map([['new', door('new', { stopCommand: 'false' })]]));
  await waitFor('the old door to close', () => existsSync(stopped));
  assert.deepEqual(lines(stopped), ['10.0.0.9']);
});

test('a knock while the door is closing opens it again once closed', async (t) => {
  const { dir, executor } = sandbox(t);
  const f = join(dir, 'marks');
  const { ex, log } = executor({
    doors: [door('ssh',
      { startCommand: `echo start >> '${f}'`, stopCommand: `sleep 0.2; echo stop >> '${f}'`, cmdTimeoutMs: 20 })],
    stateDir: dir,
  });
  await ex.open('ssh', '10.0.0.2');
  await waitFor('the close to begin', () => log.matching(/command timeout/).length === 1);
  await ex.open('ssh', '10.0.0.2');
  await waitFor('the door to open again', () => lines(f).length === 3);
  assert.deepEqual(lines(f), ['start', 'stop', 'start']);
});

test('dry run logs the commands, runs none and writes no state', async (t) => {
  const { dir, executor } = sandbox(t);
  const ran = join(dir, 'ran');
  const { ex, log } = executor({
    doors: [door('ssh', { startCommand: `touch '${ran}'`, stopCommand: `touch '${ran}'`, cmdTimeoutMs: 20 })],
    stateDir: dir,
    dryRun: true,
  });
  await ex.restore();
  await ex.open('ssh', '10.0.0.2');
  await waitFor('the close', () => ex.openDoors().length === 0);
  assert.equal(log.matching(/^ssh: running command: touch .* \(dry run: not run\)$/).length, 2);
  assert.deepEqual(readdirSync(dir), []);
});

test('a knock after a failed start runs the start of the config as it is now, '
  + 'and its close is that config\'s stop', async (t) => {
  const { dir, executor } = sandbox(t);
  const ran = join(dir, 'ran');
  const { ex } = executor({
    doors: [door('ssh', { startCommand: 'false', stopCommand: `echo stopA %IP% >> '${ran}'`, cmdTimeoutMs: 60_000 })],
    stateDir: dir,
  });
  await ex.open('ssh', '10.0.0.2');
  // The admin fixes the door (both commands) and reloads; the client knocks again.
  ex.replaceDoors([door('ssh', {
    startCommand: `echo startB %IP% >> '${ran}'`, stopCommand: `echo stopB %IP% >> '${ran}'`, cmdTimeoutMs: 20,
  })]);
  await ex.open('ssh', '10.0.0.2');
  await waitFor('the close', () => lines(ran).length === 2);
  assert.deepEqual(lines(ran), ['startB 10.0.0.2', 'stopB 10.0.0.2']);
});

test('a door saved in an earlier boot is closed once, not retried: its rule went with that boot', async (t) => {
  const { dir, executor } = sandbox(t);
  const tries = join(dir, 'tries');
  writeFileSync(join(dir, STATE_FILE), JSON.stringify({ version: 1, open: [
    { door: 'ssh', src: '10.0.0.3', closeAt: 0, stopCommand: `echo x >> '${tries}'; false`, boot: 'an-earlier-boot' },
  ] }));
  const { ex, log } = executor({ doors: [door('ssh')], stateDir: dir, retry: { minMs: 20, maxMs: 20 } });
  await ex.restore();
  await waitFor('the close', () => ex.openDoors().length === 0);
  await new Promise((r) => setTimeout(r, 200));
  assert.deepEqual(lines(tries), ['x'], 'one try');
  assert.equal(log.matching(/not retried/, 'warn').length, 1);
});

test('a wall clock stepped back while a door is open does not keep it open longer', async (t) => {
  // An NTP step (or whoever can set the clock) moves the wall clock back an hour right after the open: the
  // door must still close cmd_timeout after it opened, as time really passes, not an hour later.
  const { dir, executor } = sandbox(t);
  const marks = join(dir, 'marks');
  let step = 0;
  const { ex } = executor({
    doors: [door('ssh', { startCommand: `echo start >> '${marks}'`, stopCommand: `echo stop >> '${marks}'`,
      cmdTimeoutMs: 300 })],
    stateDir: dir,
    now: () => Date.now() - step,
  });
  await ex.open('ssh', '10.0.0.2');
  step = 3_600_000;
  await waitFor('the stop command', () => lines(marks).includes('stop'), 5000);
  assert.deepEqual(lines(marks), ['start', 'stop']);
});

test('a door saved while the wall clock ran an hour ahead closes on time '
  + 'after a restart in the same boot', async (t) => {
  // The clock was an hour ahead when the door opened and is right again when knocklog restarts (a step back in
  // between): the close time on disk is an hour late by the clock now; the monotonic deadline saved with it is not.
  const { dir, executor } = sandbox(t);
  const marks = join(dir, 'marks');
  const doors = [door('ssh', { startCommand: `echo start >> '${marks}'`, stopCommand: `echo stop >> '${marks}'`,
    cmdTimeoutMs: 1000 })];
  await crashAfter(t, doors, dir, 'now: () => Date.now() + 3600000', "await ex.open('ssh', '10.0.0.2')");
  assert.ok(stateOpen(dir)[0]!.closeAt > Date.now() + 3_000_000, 'the saved close time is an hour ahead');

  const { ex } = executor({ doors, stateDir: dir });
  await ex.restore();
  await waitFor('the stop command', () => lines(marks).includes('stop'), 5000);
  assert.deepEqual(lines(marks), ['start', 'stop']);
});
