process.env['TZ'] = 'UTC'; // year-less syslog stamps are local time; pin the zone before any Date is made

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { line as generatedLine } from '../bench/generate.js';
import { LineSink } from '../src/print/line-sink.js';
import { parseChunk, type ChunkJob } from '../src/print/chunk.js';
import { eventJson } from '../src/parse/event-json.js';
import { FORMATS, parseLine } from '../src/parse/index.js';
import { fileChunks, lineChunks, splitLines } from '../src/sources/lines.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const fixtures = `${root}test/fixtures/parse/`;
const cli = `${root}dist/src/cli.js`;
/** Preloaded to print a process's peak RSS as it exits. */
const maxrss = `${root}dist/bench/maxrss.js`;
const now = new Date('2026-11-24T12:00:00Z');

const KERNEL_LINE =
  'Nov 24 23:21:32 vm kernel: [ 9279.394318] KNOCK IN=kls0 OUT= MAC=2e:cb:25:4d:68:c8:a2:02:1d:49:d3:4c:08:00 '
  + 'SRC=10.231.0.2 DST=10.231.0.1 LEN=60 TOS=0x00 PREC=0x00 TTL=64 ID=57027 DF PROTO=TCP SPT=42717 DPT=9000 '
  + 'WINDOW=64240 RES=0x00 SYN URGP=0 ';

/** Every fixture line, plus lines that exercise decoding: UTF-8, CRLF, an escaped prefix in JSON, blank lines. */
function sampleLines(): string[] {
  const lines: string[] = [];
  for (const f of readdirSync(fixtures).filter((f) => f !== 'expected')) {
    lines.push(...readFileSync(fixtures + f, 'utf8').replace(/\n$/, '').split('\n'));
  }
  const journal = JSON.stringify({ _TRANSPORT: 'kernel', SYSLOG_FACILITY: '0', MESSAGE: KERNEL_LINE.slice(42),
    __REALTIME_TIMESTAMP: '1795557083390945' });
  lines.push(
    KERNEL_LINE.replace('kls0', 'ĸls0'),
    `${KERNEL_LINE}\r`,
    'Nov 24 23:21:32 vm kernel: [ 9279.394318] café €uro 😀 KNOCK',
    journal.replace('KNOCK', '\\u004bNOCK'),
    '',
    '\r',
    KERNEL_LINE.replace('KNOCK', 'KNOCKKNOCK'),
    `KNOCK ${'x'.repeat(5000)}`,
  );
  return lines;
}

/**
 * The reference: each line (without a trailing CR) parsed on its own, as `knocklog parse` printed it
 * before chunks existed.
 */
function reference(lines: string[], job: ChunkJob): string {
  let out = '';
  lines.forEach((l, i) => {
    const r = parseLine(l.replace(/\r$/, ''), job.opts);
    if (r.ok) out += `${eventJson(r.event)}\n`;
    else if (job.rejects) out += `${JSON.stringify({ line: i + 1, reject: r.reason })}\n`;
  });
  return out;
}

function jobs(): ChunkJob[] {
  const out: ChunkJob[] = [];
  for (const format of FORMATS) {
    for (const rejects of [false, true]) {
      for (const prefix of ['KNOCK', 'KNOCK ', '', 'é']) out.push({ opts: { prefix, format, now }, rejects });
    }
  }
  return out;
}

/** parseChunk into a sink of its own: the bytes it printed, and its counts. */
function parsed(chunk: Buffer, firstLine: number, job: ChunkJob): { out: Buffer; lines: number; knocks: number } {
  const sink = new LineSink(16);
  return { ...parseChunk(chunk, firstLine, job, sink), out: sink.bytes() };
}

test('LineSink: lines encoded as UTF-8, growing from a tiny buffer; cleared, it reuses its memory', () => {
  const sink = new LineSink(4);
  const lines = ['a', '', 'é€😀', 'x'.repeat(1000)];
  for (const l of lines) sink.line(l);
  assert.equal(sink.length, Buffer.byteLength(`${lines.join('\n')}\n`));
  const first = sink.bytes();
  assert.equal(first.toString('utf8'), `${lines.join('\n')}\n`);
  sink.clear();
  assert.equal(sink.length, 0);
  sink.line('again');
  assert.equal(sink.bytes().toString(), 'again\n');
  assert.equal(sink.bytes().buffer, first.buffer);
});

test('parseChunk prints what parsing each line on its own printed, for every format, prefix and --rejects', () => {
  const lines = sampleLines();
  const bytes = Buffer.from(`${lines.join('\n')}\n`);
  for (const job of jobs()) {
    const r = parsed(bytes, 1, job);
    const want = reference(lines, job);
    assert.equal(r.out.toString('utf8'), want, JSON.stringify(job));
    assert.equal(r.lines, lines.length);
    assert.equal(r.knocks, lines.filter((l) => parseLine(l.replace(/\r$/, ''), job.opts).ok).length);
    // Without a final newline the last line still counts.
    assert.equal(parsed(bytes.subarray(0, -1), 1, job).out.toString('utf8'), want);
  }
});

test('property: chunks cut anywhere at newlines, numbered from their first line, print the whole input', async () => {
  const lines = sampleLines();
  const text = `${lines.join('\n')}\n`;
  const job: ChunkJob = { opts: { prefix: 'KNOCK', format: 'auto', now }, rejects: true };
  const want = reference(lines, job);
  await fc.assert(
    fc.asyncProperty(fc.array(fc.integer({ min: 1, max: 300 }), { minLength: 1, maxLength: 20 }), async (sizes) => {
      // Byte-sized reads, cut into lines by lineChunks.
      const bytes = Buffer.from(text);
      const reads: Buffer[] = [];
      for (let i = 0, k = 0; i < bytes.length; k++) {
        const n = sizes[k % sizes.length]!;
        reads.push(bytes.subarray(i, i + n));
        i += n;
      }
      let out = '';
      let next = 1;
      for await (const chunk of lineChunks(Readable.from(reads))) {
        assert.equal(chunk.at(-1), 10);
        const r = parsed(chunk, next, job);
        assert.equal(r.lines, splitLines(chunk).length);
        out += r.out.toString('utf8');
        next += r.lines;
      }
      assert.equal(next, lines.length + 1);
      assert.equal(out, want);
    }),
    { numRuns: 200 },
  );
});

test('fileChunks: chunks end at newlines, hold the whole file, and the last line may lack its newline', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'knocklog-chunks-'));
  try {
    // Longer than one read, so that lines straddle reads.
    const text = `${Array.from({ length: 12000 }, (_, i) => `${i} ${KERNEL_LINE}`).join('\n')}\nno newline`;
    writeFileSync(join(dir, 'kern.log'), text);
    const chunks: Buffer[] = [];
    for await (const c of fileChunks(join(dir, 'kern.log'))) chunks.push(c);
    assert.ok(chunks.length >= 3);
    for (const c of chunks.slice(0, -1)) assert.equal(c.at(-1), 10);
    assert.equal(Buffer.concat(chunks).toString(), text);
    assert.equal(chunks.reduce((n, c) => n + splitLines(c).length, 0), 12001);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('knocklog parse on a large input (many chunks, one output buffer reused): '
  + 'the same bytes and line numbers as one chunk', () => {
  const dir = mkdtempSync(join(tmpdir(), 'knocklog-parallel-'));
  try {
    // Several chunks of 1 MiB; the sample lines recur throughout, so that every chunk holds some.
    const sample = sampleLines();
    let seed = 7;
    const r = () => ((seed = (seed * 16807) % 2147483647) / 2147483647);
    const lines: string[] = [];
    for (let i = 0; i < 40000; i++) lines.push(i % 50 === 0 ? sample[(i / 50) % sample.length]! : generatedLine(r, i));
    const file = join(dir, 'kern.log');
    const bytes = Buffer.from(`${lines.join('\n')}\n`);
    assert.ok(bytes.length > 6 << 20);
    writeFileSync(file, bytes);
    const runs = [
      { args: ['--rejects'], stdin: false },
      { args: ['--rejects'], stdin: true },
      { args: [], stdin: false },
      { args: ['--format', 'kernel', '--rejects'], stdin: true },
    ];
    for (const { args, stdin } of runs) {
      const job: ChunkJob = {
        opts: { prefix: 'KNOCK', format: args.includes('kernel') ? 'kernel' : 'auto', now: new Date() },
        rejects: args.includes('--rejects') };
      const want = parsed(bytes, 1, job);
      const argv = stdin ? [cli, 'parse', ...args] : [cli, 'parse', ...args, file];
      const p = spawnSync(process.execPath, argv,
        { input: stdin ? bytes : undefined, maxBuffer: 1 << 30, env: { ...process.env, TZ: 'UTC' } });
      assert.equal(p.status, 0, p.stderr.toString());
      assert.ok(p.stdout.equals(want.out), `${args.join(' ')} ${stdin ? 'stdin' : 'file'}: output differs`);
      assert.equal(p.stderr.toString(),
        `knocklog parse: ${want.lines} lines, ${want.knocks} knock records, ${want.lines - want.knocks} not\n`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// Before: the whole line was assembled, copied again at every read, and only then refused
// (bench/hostile.ts, median of 3: stdin 108 s and 348 MB peak RSS; a file 6 s and 481 MB).
test('knocklog parse: a 100 MiB line without a newline is refused in one pass, in bounded memory; then a knock', () => {
  const dir = mkdtempSync(join(tmpdir(), 'knocklog-long-'));
  try {
    const file = join(dir, 'kern.log');
    const fd = openSync(file, 'w');
    const block = Buffer.alloc(1 << 20, 'x');
    for (let i = 0; i < 100; i++) writeSync(fd, block);
    writeSync(fd, `\n${KERNEL_LINE}\n`);
    closeSync(fd);
    const job: ChunkJob = { opts: { prefix: 'KNOCK', format: 'auto', now: new Date() }, rejects: true };
    const knock = parsed(Buffer.from(`${KERNEL_LINE}\n`), 2, job).out.toString();
    for (const stdin of [false, true]) {
      const input = stdin ? openSync(file, 'r') : 'ignore';
      const argv = ['--import', maxrss, cli, 'parse', '--rejects', ...(stdin ? [] : [file])];
      // A bound against the old quadratic assembly, generous for a loaded machine (it now takes about a second).
      const env = { ...process.env, TZ: 'UTC' };
      const p = spawnSync(process.execPath, argv, { stdio: [input, 'pipe', 'pipe'], timeout: 20_000, env });
      if (typeof input === 'number') closeSync(input);
      const where = stdin ? 'stdin' : 'file';
      assert.equal(p.signal, null, `${where}: did not finish within 20 s`);
      assert.equal(p.status, 0, p.stderr.toString());
      assert.equal(p.stdout.toString(), `{"line":1,"reject":"line too long"}\n${knock}`, where);
      const err = p.stderr.toString();
      assert.match(err, /knocklog parse: 2 lines, 1 knock records, 1 not\n/, where);
      const peakMb = Number(/maxrss-kb (\d+)/.exec(err)?.[1]) / 1024;
      assert.ok(peakMb < 150, `${where}: peak RSS ${peakMb.toFixed(0)} MB for a 100 MiB line`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
