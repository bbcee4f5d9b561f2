// Command-line settings override [options]; they are checked like config values
// and reported as `command line: ...`.

import type { OptionOverrides, Options } from '../types.js';
import { type Invalid, type Problems, take } from './errors.js';
import { parseInterface, parseSource, parseUser } from './values.js';

const WHERE = 'command line';

export function applyOverrides(options: Options, o: OptionOverrides, problems: Problems): Options {
  const out: Options = { ...options };
  const report = (errors: readonly Invalid[]) => problems.addAll(WHERE, null, errors);
  if (o.sources !== undefined) {
    out.sources = o.sources.flatMap((s) => take(parseSource(s), report) ?? []);
  }
  if (o.prefix !== undefined) {
    // Taken as given: a shell argument needs no quoting to keep its spaces.
    if (o.prefix.trim() === '' || /[\x00-\x1f\x7f]/.test(o.prefix)) {
      problems.add(WHERE, null, `prefix ${JSON.stringify(o.prefix)} is blank or has a control character`,
        'give the log prefix of the firewall rule, e.g. KNOCK');
    } else {
      out.prefix = o.prefix;
    }
  }
  if (o.interface !== undefined) {
    if (o.interface === null) out.interface = null;
    else out.interface = take(parseInterface(o.interface), report) ?? out.interface;
  }
  if (o.maxSources !== undefined) {
    if (!Number.isSafeInteger(o.maxSources) || o.maxSources < 1) {
      problems.add(
        WHERE,
        null,
        `max sources ${o.maxSources} is not a positive whole number`,
        'use a number such as 100000',
      );
    } else {
      out.maxSources = o.maxSources;
    }
  }
  if (o.user !== undefined) out.user = take(parseUser(o.user), report) ?? out.user;
  if (o.useSyslog !== undefined) out.useSyslog = o.useSyslog;
  if (o.logFile !== undefined) out.logFile = o.logFile;
  if (o.pidFile !== undefined) out.pidFile = o.pidFile;
  if (o.stateDir !== undefined) out.stateDir = o.stateDir;
  return out;
}
