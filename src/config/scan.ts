// The line scanner for knockd.conf's grammar (knockd-semantics.md §1).
//
// Why not the `ini` package for the structure (it reads quoted values, see
// parsePrefix): it cannot report line numbers, it merges repeated
// keys (TCPFlags lines must add up), it strips inline `;`/`#` comments (knockd
// passes `echo hi # x` to the shell unchanged), and it rejects or rewrites bare
// words like `UseSyslog`. knockd's grammar is simple enough that a scanner of
// a few lines is both exact and able to say where each problem is.

import type { Problems } from './errors.js';

export interface Directive {
  /** The key as written, trimmed (case is kept for messages). */
  key: string;
  /** The trimmed text after the first `=`; null for a bare word without `=`. */
  value: string | null;
  line: number;
}

export interface Section {
  /** The name between the brackets, trimmed. */
  name: string;
  line: number;
  /** `[options]` in any letter case. */
  isOptions: boolean;
  directives: Directive[];
}

/** Splits a config text into sections of directives; grammar errors go to `problems`. */
export function scanConfig(text: string, path: string, problems: Problems): Section[] {
  const sections: Section[] = [];
  let current: Section | null = null;
  let brokenHeader = false;
  const lines = text.replace(/^\uFEFF/, '').split('\n');
  // A file ending in '\n' yields one empty last element, which is skipped as a blank line.
  for (const [i, raw] of lines.entries()) {
    const n = i + 1;
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    if (line.startsWith('[')) {
      if (!line.endsWith(']')) {
        problems.add(path, n, `section header ${JSON.stringify(line)} has no closing "]"`, 'write it as [name]');
        current = null;
        brokenHeader = true;
        continue;
      }
      const name = line.slice(1, -1).trim();
      if (name === '') {
        problems.add(path, n, 'empty section name', 'write [options] or [door name]');
        current = null;
        brokenHeader = true;
        continue;
      }
      brokenHeader = false;
      current = { name, line: n, isOptions: name.toLowerCase() === 'options', directives: [] };
      sections.push(current);
      continue;
    }
    const eq = line.indexOf('=');
    const key = (eq < 0 ? line : line.slice(0, eq)).trim();
    const value = eq < 0 ? null : line.slice(eq + 1).trim();
    if (key === '') {
      problems.add(path, n, 'a line starts with "=" and has no key', 'write key = value');
      continue;
    }
    if (current === null) {
      // Under a broken header the section is unknown; its lines are not reported again.
      if (!brokenHeader) {
        problems.add(path, n, `"${key}" comes before any section`, 'put it under [options] or a [door] header');
      }
      continue;
    }
    current.directives.push({ key, value, line: n });
  }
  return sections;
}
