// Configuration errors. Every problem names the file and line it comes from and
// says what to do, so `knocklog check` can print them all at once.

/** Thrown by loadConfig/parseConfig; `errors` holds every problem found, one message each. */
export class ConfigError extends Error {
  readonly errors: string[];

  constructor(errors: string[]) {
    super(errors.join('\n'));
    this.name = 'ConfigError';
    this.errors = errors;
  }
}

/** A value that did not validate: what is wrong, and what to do about it. */
export interface Invalid {
  error: string;
  hint: string;
}

/** A parsed value, or every reason it is not one. */
export type Checked<T> = { ok: true; value: T } | { ok: false; errors: Invalid[] };

export function valid<T>(value: T): Checked<T> {
  return { ok: true, value };
}

export function invalid<T = never>(error: string, hint: string): Checked<T> {
  return { ok: false, errors: [{ error, hint }] };
}

/** The value, or undefined once `report` has every reason it is not one. */
export function take<T>(c: Checked<T>, report: (errors: readonly Invalid[]) => void): T | undefined {
  if (c.ok) return c.value;
  report(c.errors);
  return undefined;
}

/** Collects problems in the order they are found. */
export class Problems {
  readonly list: string[] = [];

  /** `PATH:LINE: what is wrong (what to do)`; LINE is left out when the problem has none. */
  add(path: string, line: number | null, error: string, hint: string): void {
    const where = line === null ? path : `${path}:${line}`;
    this.list.push(`${where}: ${error} (${hint})`);
  }

  addAll(path: string, line: number | null, bad: readonly Invalid[]): void {
    for (const b of bad) this.add(path, line, b.error, b.hint);
  }

  get empty(): boolean {
    return this.list.length === 0;
  }
}
