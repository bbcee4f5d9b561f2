// Command-line settings override [options]; they are checked like config values
// and reported as `command line: ...`.

import type { Options } from '../types.js';
import { Problems } from './errors.js';
import { parseInterface, parseSource, parseUser } from './values.js';

const WHERE = 'command line';

export function applyOverrides(options: Options, overrides: Partial<Options>, problems: Problems): Options {
  const out: Options = { ...options };
  for (const [k, v] of Object.entries(overrides) as [keyof Options, unknown][]) {
    if (v === undefined) continue;
    switch (k) {
      case 'sources': {
        const list = v as string[];
        const ok: string[] = [];
        for (const s of list) {
          const c = parseSource(s);
          if (c.ok) ok.push(c.value);
          else problems.addAll(WHERE, null, c.errors);
        }
        out.sources = ok;
        break;
      }
      case 'prefix':
        // eslint-disable-next-line no-control-regex
        if (v === '' || /[\x00-\x1f\x7f]/.test(v as string)) problems.add(WHERE, null, `prefix ${JSON.stringify(v)} is empty or has a control character`, 'give the log prefix of the firewall rule, e.g. KNOCK');
        else out.prefix = v as string;
        break;
      case 'interface': {
        if (v === null) { out.interface = null; break; }
        const c = parseInterface(v as string);
        if (c.ok) out.interface = c.value;
        else problems.addAll(WHERE, null, c.errors);
        break;
      }
      case 'maxSources':
        if (!Number.isSafeInteger(v) || (v as number) < 1) problems.add(WHERE, null, `max sources ${String(v)} is not a positive whole number`, 'use a number such as 100000');
        else out.maxSources = v as number;
        break;
      case 'user': {
        const c = parseUser(v as string);
        if (c.ok) out.user = c.value;
        else problems.addAll(WHERE, null, c.errors);
        break;
      }
      case 'useSyslog':
        out.useSyslog = v as boolean;
        break;
      case 'logFile':
        out.logFile = v as string | null;
        break;
      case 'pidFile':
        out.pidFile = v as string;
        break;
      case 'stateDir':
        out.stateDir = v as string;
        break;
      default:
        problems.add(WHERE, null, `unknown setting ${String(k)}`, 'this is a bug in the caller');
    }
  }
  return out;
}
