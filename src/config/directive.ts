// One `key = value` line of a section, and how a key's value reaches the
// section's draft: the tables of handlers (build.ts, timed.ts) are typed by the
// key names of keys.ts, so a key without a handler does not compile.

import { dirname, resolve } from 'node:path';
import { type Checked, type Invalid, take } from './errors.js';
import type { ConfigIO } from './io.js';

export interface DirectiveAt {
  /** The config file. */
  readonly path: string;
  readonly line: number;
  readonly io: ConfigIO;
  /** Adds problems at this line. */
  readonly report: (errors: readonly Invalid[]) => void;
}

/** What a key's value does to a draft; false when the value is invalid (its problems are reported). */
export type Handler<D> = (draft: D, value: string, at: DirectiveAt) => boolean;

/** A key whose checked value `store` puts in the draft. */
export function stored<D, T>(
  parse: (value: string) => Checked<T>, store: (draft: D, value: T, at: DirectiveAt) => void,
): Handler<D> {
  return (draft, value, at) => {
    const v = take(parse(value), at.report);
    if (v === undefined) return false;
    store(draft, v, at);
    return true;
  };
}

/** Reports one problem at the directive's line; false, for a handler to return. */
export function refuse(at: DirectiveAt, error: string, hint: string): false {
  at.report([{ error, hint }]);
  return false;
}

/**
 * Relative paths in the config are relative to the config file's directory:
 * knockd resolved them against its working directory, which for a daemon is
 * `/` and for `check` is wherever it is run, so they would mean two things.
 */
export function pathValue(value: string, at: Pick<DirectiveAt, 'path'>): string {
  return resolve(dirname(at.path), value);
}
