// Warnings for files that programs other than the kernel write to: there
// `logger -p kern.warning -t kernel "..."` writes a line of exactly the
// kernel's shape, so knocks seen in it can be forged by any local user
// (see "Where forged lines come from" in the design notes).

import type { Log } from '../log.js';

const ALL_FACILITY_FILES = new Set(['/var/log/syslog', '/var/log/messages']);

const ADVICE =
  'any local user can forge firewall log lines there with logger(1); ' +
  'read a kern.*-only file (e.g. file:/var/log/kern.log), journal or kmsg instead';

/** A warning when the path is a well-known all-facility file, else null. */
export function allFacilityWarning(path: string): string | null {
  if (!ALL_FACILITY_FILES.has(path)) return null;
  return `file:${path} receives the messages of all programs, not only the kernel's: ${ADVICE}`;
}

// A syslog line's program tag: `STAMP HOST TAG[PID]: ` (BSD or RFC 3339 stamp).
const BSD_STAMP = /[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d(?:\.\d+)?/.source;
const RFC3339_STAMP = /\d{4}-\d\d-\d\dT[\d:.]+(?:Z|[+-]\d\d:?\d\d)/.source;
const TAGGED = new RegExp(String.raw`^(?:${BSD_STAMP}|${RFC3339_STAMP}) \S+ ([^\s[:]+)(?:\[\d+\])?: `);

/** The program tag of a syslog line written by a program other than the kernel, else null. */
export function foreignProgram(line: string): string | null {
  const m = TAGGED.exec(line);
  if (m === null || m[1] === 'kernel') return null;
  // ulogd2 LOGEMU lines have no tag: a prefix ending in ':' is followed by the record.
  if (line.startsWith('IN=', m[0].length)) return null;
  return m[1]!;
}

/** Looks at a sample of a file's lines (the first 100, then one in 64) and warns once. */
export class ForeignLineCheck {
  private seen = 0;
  private warned = false;

  constructor(
    private readonly name: string,
    private readonly log: Log,
  ) {}

  check(line: string): void {
    if (this.warned) return;
    const n = this.seen++;
    if (n >= 100 && (n & 63) !== 0) return;
    const program = foreignProgram(line);
    if (program === null) return;
    this.warned = true;
    this.log.warn(
      `${this.name} holds lines from programs other than the kernel (e.g. "${program.slice(0, 40)}"): ${ADVICE}`,
    );
  }
}
