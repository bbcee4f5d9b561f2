// Time stamps at the edges: early ISO years, and the hour a DST change repeats.
// The zone is pinned before any Date is made: in America/New_York 2026-11-01
// 01:00-01:59 happens twice, first as EDT (UTC-4), then as EST (UTC-5).
process.env['TZ'] = 'America/New_York';

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseLine } from '../src/parse/index.js';
import { rfc3339, yearlessLocal } from '../src/parse/time.js';

const RECORD = 'KNOCK IN=eth0 OUT= MAC= SRC=10.0.0.2 DST=10.0.0.1 LEN=60 TOS=0x00 PREC=0x00 TTL=64 ID=1 DF '
  + 'PROTO=TCP SPT=40000 DPT=7000 WINDOW=64240 RES=0x00 SYN URGP=0 ';

function timeOf(line: string, now: Date): string | null {
  const r = parseLine(line, { prefix: 'KNOCK', format: 'kernel', now });
  assert.ok(r.ok, line);
  return r.event.time;
}

test('ISO years 0000-0099 stay as written, not 19xx (audit L8)', () => {
  assert.equal(rfc3339('0001-01-01T00:00:00Z'), '0001-01-01T00:00:00Z');
  assert.equal(rfc3339('0000-02-29T12:00:00.5Z'), '0000-02-29T12:00:00.5Z');
  assert.equal(rfc3339('0099-12-31T23:30:00-01:00'), '0100-01-01T00:30:00Z');
  assert.match(rfc3339('0050-06-01T12:00:00') ?? '', /^0050-06-01T/, 'a local time without a zone');
  assert.equal(rfc3339('1969-12-31T23:59:00Z'), '1969-12-31T23:59:00Z');
  const now = new Date('2026-11-24T12:00:00Z');
  assert.equal(timeOf(`0001-01-01T00:00:00Z vm kernel: ${RECORD}`, now), '0001-01-01T00:00:00Z');
  assert.match(timeOf(`[Mon Jan  1 00:00:00 0042] ${RECORD}`, now) ?? '', /^0042-01-01T/, 'dmesg -T');
});

test('a year-less stamp in the repeated DST hour: the later occurrence unless it is still to come (audit L10)', () => {
  const at = (h: number, mi: number, now: string) => yearlessLocal(10, 1, h, mi, 0, '', new Date(now));
  // Read as it is logged: in the first pass the second occurrence is still to come; in the second pass it is now.
  assert.equal(at(1, 30, '2026-11-01T05:30:02Z'), '2026-11-01T05:30:00Z');
  assert.equal(at(1, 30, '2026-11-01T06:30:02Z'), '2026-11-01T06:30:00Z');
  // A first-pass line read 15 min later, in the second pass: its second occurrence (06:50Z) is still to come.
  assert.equal(at(1, 50, '2026-11-01T06:05:00Z'), '2026-11-01T05:50:00Z');
  // Read later (replay): both are past; the later one is taken, so a first-pass line is placed an hour late.
  assert.equal(at(1, 30, '2026-11-02T12:00:00Z'), '2026-11-01T06:30:00Z');
  // Hours that happen once are not moved.
  assert.equal(at(0, 30, '2026-11-02T12:00:00Z'), '2026-11-01T04:30:00Z');
  assert.equal(at(2, 30, '2026-11-02T12:00:00Z'), '2026-11-01T07:30:00Z');
  // Through the parser, whose converted stamps are reused only for the same `now`.
  const line = `Nov  1 01:30:00 vm kernel: ${RECORD}`;
  assert.equal(timeOf(line, new Date('2026-11-01T05:30:01Z')), '2026-11-01T05:30:00Z');
  assert.equal(timeOf(line, new Date('2026-11-01T06:30:01Z')), '2026-11-01T06:30:00Z');
});
