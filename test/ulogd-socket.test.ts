// `ulogd-socket:PATH` against a real Unix socket: a client (another process,
// as ulogd2 is) connects and writes JSON lines. Every wait is for a condition.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { RecordingLog, until } from './helpers/recording-log.js';
import { parseLine } from '../src/parse/index.js';
import { openSource, type Source } from '../src/sources/index.js';
import { LineSplitter } from '../src/sources/ulogd-socket.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
/** Real ulogd2 JSON records (prefix KNOCK). */
const RECORDS = readFileSync(join(ROOT, 'test/fixtures/parse/ulogd.json'), 'utf8')
  .split('\n').filter((l) => l.startsWith('{'));

interface Running {
  source: Source;
  lines: string[];
  log: RecordingLog;
}

async function withListener(
  fn: (dir: string, start: (path: string, onLines?: (l: string[]) => void) => Running) => Promise<void>,
): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'knocklog-usock-'));
  const sources: Source[] = [];
  try {
    await fn(dir, (path, onLines) => {
      const log = new RecordingLog();
      const source = openSource(`ulogd-socket:${path}`, { stateDir: null, log, retry: { minMs: 20, maxMs: 200 } });
      sources.push(source);
      const lines: string[] = [];
      source.start((batch) => {
        lines.push(...batch);
        onLines?.(batch);
      });
      return { source, lines, log };
    });
  } finally {
    await Promise.all(sources.map((s) => s.stop()));
    rmSync(dir, { recursive: true, force: true });
  }
}

const listening = (r: Running) =>
  until(`the socket to listen (${r.log.messages.join(' | ')})`, () => r.log.count(/: listening \(mode/) > 0);

function client(path: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(path, () => resolve(s));
    s.once('error', reject);
  });
}

const write = (s: Socket, text: string) =>
  new Promise<void>((resolve, reject) => s.write(text, (e) => (e ? reject(e) : resolve())));

test('ulogd-socket: records written in pieces arrive as whole lines and parse as ulogd2 JSON; the socket is 0600', () =>
  withListener(async (dir, start) => {
    const path = join(dir, 'ulogd.sock');
    const r = start(path);
    await listening(r);
    const st = lstatSync(path);
    assert.ok(st.isSocket());
    assert.equal(st.mode & 0o7777, 0o600, 'only the reader\'s user (and root) may connect');
    const c = await client(path);
    const text = RECORDS.map((l) => `${l}\n`).join('');
    // Cut mid-record, as a stream may deliver them.
    for (let i = 0; i < text.length; i += 97) await write(c, text.slice(i, i + 97));
    await until('every record', () => r.lines.length === RECORDS.length);
    assert.deepEqual(r.lines, RECORDS);
    const parsed = r.lines.map((l) => parseLine(l, { prefix: 'KNOCK', format: 'ulogd-json', now: new Date() }));
    assert.ok(parsed.some((p) => p.ok), 'the fixture holds knock records');
    c.destroy();
  }));

test('ulogd-socket: in a set-group-ID directory the socket is 0660 with the directory\'s group', () =>
  withListener(async (dir, start) => {
    const shared = join(dir, 'shared');
    mkdirSync(shared);
    chmodSync(shared, 0o2750);
    const path = join(shared, 'ulogd.sock');
    const r = start(path);
    await listening(r);
    const st = lstatSync(path);
    assert.equal(st.mode & 0o7777, 0o660);
    assert.equal(st.gid, statSync(shared).gid);
    const said = new RegExp(`listening \\(mode 0660: uid ${st.uid} and group ${st.gid} and root may connect\\)`);
    assert.equal(r.log.count(said), 1);
  }));

test('ulogd-socket: ulogd2 reconnecting (a new connection) keeps the lines coming; stop removes the socket', () =>
  withListener(async (dir, start) => {
    const path = join(dir, 'ulogd.sock');
    const r = start(path);
    await listening(r);
    const a = await client(path);
    await write(a, 'one\ntwo\n');
    a.end();
    await until('the disconnect', () => r.log.count(/ulogd2 disconnected/) === 1);
    const b = await client(path);
    await write(b, 'three\n');
    await until('three lines', () => r.lines.length === 3);
    assert.deepEqual(r.lines, ['one', 'two', 'three']);
    b.destroy();
    await r.source.stop();
    assert.throws(() => lstatSync(path), /ENOENT/);
  }));

test('ulogd-socket: a stale socket at PATH is replaced; a missing directory is reported with what to do, '
  + 'then retried', () =>
  withListener(async (dir, start) => {
    const stalePath = join(dir, 'stale.sock');
    // A listener killed with SIGKILL leaves its socket file behind (a closed server would remove it).
    const script = "require('net').createServer().listen(process.argv[1], () => process.kill(process.pid, 'SIGKILL'))";
    spawnSync(process.execPath, ['-e', script, stalePath]);
    assert.ok(lstatSync(stalePath).isSocket());
    const r = start(stalePath);
    await listening(r);
    const c = await client(stalePath);
    await write(c, 'fresh\n');
    await until('a line', () => r.lines.length === 1);
    c.destroy();

    const later = join(dir, 'later', 'ulogd.sock');
    const m = start(later);
    const missing = /error: .*the directory .*later does not exist \(create it, e\.g\. install -d -m 2750 /;
    await until('the error', () => m.log.count(missing) > 0);
    mkdirSync(join(dir, 'later'));
    await listening(m);
  }));

test('ulogd-socket: a line longer than 4096 bytes is dropped whole, and the lines after it still count', () =>
  withListener(async (dir, start) => {
    const path = join(dir, 'ulogd.sock');
    const r = start(path);
    await listening(r);
    const c = await client(path);
    await write(c, 'before\n');
    for (let i = 0; i < 100; i++) await write(c, 'x'.repeat(10_000)); // a megabyte without a newline
    await write(c, 'tail of the long one\nafter\n');
    await until('two lines', () => r.lines.length === 2);
    assert.deepEqual(r.lines, ['before', 'after']);
    assert.equal(r.log.count(/warn: .*dropped a line longer than 4096 bytes/), 1);
    c.destroy();
  }));

test('LineSplitter: pieces, CRLF, and the cap', () => {
  const s = new LineSplitter(10);
  assert.deepEqual(s.push(Buffer.from('ab')), []);
  assert.deepEqual(s.push(Buffer.from('c\r\nde\nf')), ['abc', 'de']);
  assert.deepEqual(s.push(Buffer.from('ghijklmnop')), []); // f + 10 bytes: over the cap
  assert.deepEqual(s.push(Buffer.from('q\nok\n')), ['ok']);
  assert.equal(s.dropped, 1);
});

/** Whether a process of `uid`:`gid` (no other groups) can connect to the socket at `path`. */
function connectsAs(uid: number, gid: number, path: string): { ok: boolean; error: string } {
  const script = `require('net').connect(process.argv[1], () => process.exit(0)).on('error', (e) => {
    console.error(e.code); process.exit(1); });`;
  const as = [`--reuid=${uid}`, `--regid=${gid}`, '--clear-groups'];
  const r = spawnSync('setpriv', [...as, process.execPath, '-e', script, path], { encoding: 'utf8' });
  return { ok: r.status === 0, error: r.stderr.trim() };
}

const asRoot = { skip: process.getuid?.() === 0 ? false : 'needs root (to connect as other users)' };

test('ulogd-socket: only the socket\'s owner, and in a set-group-ID directory its group, may connect', asRoot, () =>
  withListener(async (dir, start) => {
    chmodSync(dir, 0o755); // the directory lets everyone through: the socket's own mode must refuse them
    const own = start(join(dir, 'own.sock'));
    await listening(own);
    assert.deepEqual(connectsAs(65534, 65534, join(dir, 'own.sock')), { ok: false, error: 'EACCES' }, 'nobody may not');

    const shared = join(dir, 'shared');
    mkdirSync(shared);
    chownSync(shared, 0, 65534);
    chmodSync(shared, 0o2755);
    const grouped = start(join(shared, 'ulogd.sock'));
    await listening(grouped);
    assert.deepEqual(connectsAs(65534, 65534, join(shared, 'ulogd.sock')), { ok: true, error: '' }, 'the group may');
    assert.deepEqual(connectsAs(1, 1, join(shared, 'ulogd.sock')), { ok: false, error: 'EACCES' }, 'others may not');
  }));
