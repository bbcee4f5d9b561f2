// The public corpus in ../shared/log-corpus (not copied: several sources are
// GPL): every representative line of EXPECTED.md parses to the documented
// fields or is rejected, and no corpus line makes the parser throw.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { canonicalAddress } from '../src/net.js';
import { parseLine, type Format } from '../src/parse/index.js';

const corpus = fileURLToPath(new URL('../../../shared/log-corpus/', import.meta.url));
const skip = existsSync(join(corpus, 'EXPECTED.md')) ? false : `no corpus at ${corpus}`;
const now = new Date('2026-11-24T12:00:00Z');

interface Expected {
  n: number;
  file: string;
  verdict: 'ACCEPT' | 'REJECT';
  line: string;
  fields: Record<string, string>;
}

function expectedEntries(): Expected[] {
  const md = readFileSync(join(corpus, 'EXPECTED.md'), 'utf8');
  const out: Expected[] = [];
  for (const sec of md.split(/^## /m).slice(1)) {
    const head = /^(\d+)\. `([^`:]+):\d+` — (ACCEPT|REJECT)/.exec(sec);
    const line = /```\n([\s\S]*?)\n```/.exec(sec);
    if (!head || !line) continue;
    const fields: Record<string, string> = {};
    for (const m of sec.matchAll(/^\| (\w+) \| `(.*)` \|$/gm)) fields[m[1]!] = m[2]!;
    out.push({ n: Number(head[1]), file: head[2]!, verdict: head[3] as 'ACCEPT' | 'REJECT', line: line[1]!, fields });
  }
  return out;
}

const FORMAT_OF: Record<string, Format> = {
  'ulogd-logemu.log': 'logemu',
  'unifi-ulogd.log': 'logemu',
  'ulogd-json.jsonl': 'ulogd-json',
};

// Where knocklog is deliberately stricter than the corpus notes, and why.
const STRICTER: Record<number, string> = {
  10: 'the OPT group is cut off: a partial record is never accepted',
  12: 'URGn=0 is an unknown key: unknown keys reject the line',
  25: 'pve-firewall writes its own format; not a kernel or ulogd2 source',
  27: 'journal export format spans many lines; use journalctl -o json',
};

test('EXPECTED.md: every representative corpus line', { skip }, () => {
  const entries = expectedEntries();
  assert.ok(entries.length >= 40, `found ${entries.length} entries`);
  for (const e of entries) {
    const prefix = (e.fields['prefix'] ?? '').replace(/^\((none|empty)\)$/, '');
    const format = FORMAT_OF[e.file] ?? 'kernel';
    const r = parseLine(e.line, { prefix, format, now });
    const proto = (e.fields['proto'] ?? '').split(' ')[0];
    const knock = e.verdict === 'ACCEPT' && (proto === 'TCP' || proto === 'UDP' || proto === '6' || proto === '17');
    if (!knock || STRICTER[e.n]) {
      assert.equal(r.ok, false, `#${e.n} ${e.file} must be rejected (${STRICTER[e.n] ?? `${e.verdict} ${proto}`})`);
      continue;
    }
    assert.ok(r.ok, `#${e.n} ${e.file}: ${r.ok ? '' : r.reason}`);
    const ev = r.event;
    const addr = (s: string) => canonicalAddress(s.split(' ')[0]!);
    assert.equal(ev.src, addr(e.fields['src']!), `#${e.n} src`);
    assert.equal(ev.dst, addr(e.fields['dst']!), `#${e.n} dst`);
    assert.equal(ev.proto, proto === 'TCP' || proto === '6' ? 'tcp' : 'udp', `#${e.n} proto`);
    assert.equal(ev.spt, Number(e.fields['spt']), `#${e.n} spt`);
    assert.equal(ev.dpt, Number(e.fields['dpt']), `#${e.n} dpt`);
    const flags = (e.fields['flags'] ?? '').split(' (')[0]!;
    assert.deepEqual(ev.flags, flags === '-' || flags === '(none)' ? [] : flags.split(' '), `#${e.n} flags`);
    assert.equal(ev.in, (e.fields['in'] ?? '').startsWith('(empty') ? '' : e.fields['in']!.split(' ')[0], `#${e.n} in`);
    assert.equal(ev.prefix, prefix, `#${e.n} prefix`);
  }
});

test('no corpus line makes the parser throw, under any format', { skip }, () => {
  let lines = 0;
  for (const f of readdirSync(corpus)) {
    if (f.endsWith('.md')) continue;
    for (const line of readFileSync(join(corpus, f), 'utf8').split('\n')) {
      for (const format of ['auto', 'kernel', 'logemu', 'ulogd-json'] as const) {
        for (const prefix of ['KNOCK', '', '[UFW BLOCK]', 'DROP']) {
          const r = parseLine(line, { prefix, format, now });
          if (!r.ok) assert.doesNotMatch(r.reason, /^internal error/, `${f}: ${line}`);
        }
      }
      lines++;
    }
  }
  assert.ok(lines > 400, `read ${lines} lines`);
});
