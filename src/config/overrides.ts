// Command-line settings override [options]; they are checked like config values
// and reported as `command line: ...`.

import type { OptionOverrides, Options } from '../types.js';
import type { Checked, Problems } from './errors.js';
import { parseInterface, parseSource, parseUser } from './values.js';

const WHERE = 'command line';

export function applyOverrides(options: Options, o: OptionOverrides, problems: Problems): Options {
  const out: Options = { ...options };
  const take = <T>(c: Checked<T>, set: (v: T) => void): void => {
    if (c.ok) set(c.value);
    else problems.addAll(WHERE, null, c.errors);
  };
  if (o.sources !== undefined) {
    const list: string[] = [];
    for (const s of o.sources) take(parseSource(s), (v) => list.push(v));
    out.sources = list;
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
    else take(parseInterface(o.interface), (v) => { out.interface = v; });
  }
  if (o.maxSources !== undefined) {
    if (!Number.isSafeInteger(o.maxSources) || o.maxSources < 1) {
      problems.add(WHERE, null, `max sources ${o.maxSources} is not a positive whole number`, 'use a number such as 100000');
    } else {
      out.maxSources = o.maxSources;
    }
  }
  if (o.user !== undefined) take(parseUser(o.user), (v) => { out.user = v; });
  if (o.useSyslog !== undefined) out.useSyslog = o.useSyslog;
  if (o.logFile !== undefined) out.logFile = o.logFile;
  if (o.pidFile !== undefined) out.pidFile = o.pidFile;
  if (o.stateDir !== undefined) out.stateDir = o.stateDir;
  return out;
}
