// The executor parses what the reader sends as untrusted input, into exactly the Decision union.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../src/config/index.js';
import { parseReaderMessage, validDecision } from '../src/daemon/protocol.js';

const config = parseConfig('[ssh]\nsequence = 7000,8000\nstart_command = true\n', 'k.conf');
const base = { at: 1, door: 'ssh', src: '10.0.0.2' };

test('a request is parsed into its event\'s fields and nothing else; anything off is refused', () => {
  assert.deepEqual(validDecision({ ...base, event: 'open', step: 5, stopCommand: 'id', stage: 3 }, config),
    { ...base, event: 'open', step: 5 });
  assert.deepEqual(validDecision({ ...base, event: 'stage', stage: 2, step: 9 }, config),
    { ...base, event: 'stage', stage: 2 });
  assert.deepEqual(validDecision({ ...base, event: 'close' }, config), { ...base, event: 'close' });
  for (const bad of [
    { ...base, event: 'stage' }, // a stage without its number
    { ...base, event: 'timeout', stage: 33 }, // beyond the longest sequence
    { ...base, event: 'open', step: -1 },
    { ...base, event: 'open', oneTimeLine: 1.5 },
    { ...base, event: 'run' },
    { ...base, event: 'open', door: '__proto__' },
    { ...base, event: 'open', src: '10.0.0.02' },
    { ...base, event: 'open', at: Number.NaN },
    null, 'open', [],
  ]) {
    assert.equal(validDecision(bad, config), null, JSON.stringify(bad));
  }
});

test('a reader\'s message envelope is parsed before anything reads it: nothing in it can throw in the executor', () => {
  assert.deepEqual(parseReaderMessage({ type: 'log', level: 'warn', msg: 'x' }),
    { type: 'log', level: 'warn', msg: 'x' });
  assert.deepEqual(parseReaderMessage({ type: 'log', level: 'fatal', msg: 'x' }),
    { type: 'log', level: 'info', msg: 'x' });
  assert.deepEqual(parseReaderMessage({ type: 'decisions', decisions: [1] }), { type: 'decisions', decisions: [1] });
  for (const bad of [null, undefined, 7, 'log', { type: 'log', msg: { toString: 1 } },
    { type: 'decisions', decisions: {} },
    { type: 'run' }, { type: { toString: 1 } }]) {
    assert.equal(parseReaderMessage(bad), null, String(JSON.stringify(bad)));
  }
});
