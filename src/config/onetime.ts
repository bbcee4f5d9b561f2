// one_time_sequences files: one sequence per line in the Sequence syntax
// (commas; knockd's man page recommends a leading space, so lines are trimmed),
// `#` lines and blank lines skipped. A used line is one that starts with `#`:
// knockd overwrites the first byte with `#`, knocklog comments the line.

import { constants } from 'node:fs';
import { dirname } from 'node:path';
import type { OneTimeEntry, OneTimeSequences } from '../types.js';
import { ConfigError, Problems } from './errors.js';
import { type ConfigIO, describeFsError, nodeIO } from './io.js';
import { parseSequence } from './sequence.js';

/**
 * The unused entries of a one_time_sequences text, in order. A line that is not
 * a valid sequence is an error at `PATH:LINE` (knockd skips it silently, which
 * hides a typo until the sequences before it are used up).
 */
export function parseOneTimeSequences(text: string, path: string, problems: Problems): OneTimeEntry[] {
  const entries: OneTimeEntry[] = [];
  text.replace(/^\uFEFF/, '').split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const seq = parseSequence(line);
    if (seq.ok) entries.push({ line: i + 1, sequence: seq.value });
    else problems.addAll(path, i + 1, seq.errors);
  });
  return entries;
}

/**
 * Reads and checks the one_time_sequences file named at `confPath:confLine`.
 * With `requireWritable`, the file and its directory must be writable: the
 * daemon marks a used sequence by writing a new file beside it and renaming it.
 * Returns null when the file cannot be used (the problems say why).
 */
export function loadOneTimeSequences(
  otsPath: string,
  confPath: string,
  confLine: number,
  io: ConfigIO,
  requireWritable: boolean,
  problems: Problems,
): OneTimeSequences | null {
  let text: string;
  try {
    text = io.readFile(otsPath);
  } catch (e) {
    problems.add(confPath, confLine, `one_time_sequences file ${otsPath} cannot be read: ${describeFsError(e)}`,
      'create it with one sequence per line, or fix the path');
    return null;
  }
  if (requireWritable) {
    try {
      io.access(otsPath, constants.W_OK);
    } catch (e) {
      problems.add(confPath, confLine, `one_time_sequences file ${otsPath} is not writable: ${describeFsError(e)}`,
        'knocklog marks used sequences in it; let the daemon\'s user write it');
    }
    const dir = dirname(otsPath);
    try {
      io.access(dir, constants.W_OK);
    } catch (e) {
      problems.add(
        confPath,
        confLine,
        `the directory ${dir} of one_time_sequences file ${otsPath} is not writable: ${describeFsError(e)}`,
        'knocklog rewrites the file atomically through a temporary file beside it; ' +
          'let the daemon\'s user write the directory',
      );
    }
  }
  const entries = parseOneTimeSequences(text, otsPath, problems);
  return { path: otsPath, entries };
}

/**
 * Re-reads a one_time_sequences file on its own, e.g. after the daemon marked
 * a line used. Throws ConfigError (`PATH:LINE: ...` for bad lines).
 */
export function readOneTimeSequences(path: string, io: ConfigIO = nodeIO): OneTimeSequences {
  const problems = new Problems();
  let text: string;
  try {
    text = io.readFile(path);
  } catch (e) {
    throw new ConfigError([
      `${path}: one_time_sequences file cannot be read: ${describeFsError(e)} ` +
        '(create it with one sequence per line, or fix the path)',
    ]);
  }
  const entries = parseOneTimeSequences(text, path, problems);
  if (!problems.empty) throw new ConfigError(problems.list);
  return { path, entries };
}
