// The directives knocklog knows: knockd 0.8's, with their aliases, plus
// knocklog's own settings in [options]. Keys are matched case-insensitively.

import { TIMED_KEYS, type TimedKey } from './timed.js';

export type KeyName =
  | 'UseSyslog' | 'LogFile' | 'PidFile' | 'Interface'
  | 'Sources' | 'Prefix' | 'StateDir' | 'MaxSources' | 'User'
  | 'Sequence' | 'One_Time_Sequences' | 'Seq_Timeout' | 'TCPFlags'
  | 'Start_Command' | 'Start_Command_6' | 'Cmd_Timeout' | 'Stop_Command' | 'Stop_Command_6' | 'Target'
  | TimedKey;

export type Scope = 'options' | 'door' | 'any';

interface KeyDef {
  name: KeyName;
  scope: Scope;
  /** Several lines add up instead of being a mistake. */
  repeatable: boolean;
}

const DEFS: readonly (KeyDef & { aliases?: string[] })[] = [
  // knockd accepts the bare UseSyslog in any section, so knocklog does too.
  { name: 'UseSyslog', scope: 'any', repeatable: true },
  { name: 'LogFile', scope: 'options', repeatable: false },
  { name: 'PidFile', scope: 'options', repeatable: false },
  { name: 'Interface', scope: 'options', repeatable: false },
  { name: 'Sources', scope: 'options', repeatable: false },
  { name: 'Prefix', scope: 'options', repeatable: false },
  { name: 'StateDir', scope: 'options', repeatable: false },
  { name: 'MaxSources', scope: 'options', repeatable: false },
  { name: 'User', scope: 'options', repeatable: false },
  { name: 'Sequence', scope: 'door', repeatable: false },
  { name: 'One_Time_Sequences', scope: 'door', repeatable: false },
  { name: 'Seq_Timeout', scope: 'door', repeatable: false, aliases: ['Timeout'] },
  { name: 'TCPFlags', scope: 'door', repeatable: true },
  { name: 'Start_Command', scope: 'door', repeatable: false, aliases: ['Command'] },
  { name: 'Start_Command_6', scope: 'door', repeatable: false, aliases: ['Command_6'] },
  { name: 'Cmd_Timeout', scope: 'door', repeatable: false },
  { name: 'Stop_Command', scope: 'door', repeatable: false },
  { name: 'Stop_Command_6', scope: 'door', repeatable: false },
  { name: 'Target', scope: 'door', repeatable: false },
  ...TIMED_KEYS.map((name) => ({ name, scope: 'door' as const, repeatable: false })),
];

export function isTimedKey(name: KeyName): name is TimedKey {
  return (TIMED_KEYS as readonly string[]).includes(name);
}

const BY_LOWER = new Map<string, KeyDef>();
for (const d of DEFS) {
  for (const n of [d.name, ...(d.aliases ?? [])]) BY_LOWER.set(n.toLowerCase(), d);
}

export function lookupKey(key: string): KeyDef | undefined {
  return BY_LOWER.get(key.toLowerCase());
}

function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min((prev[j] ?? 0) + 1, (cur[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length] ?? 0;
}

/** What to do about an unknown key: the nearest known one in that scope, or the list. */
export function unknownKeyHint(key: string, scope: 'options' | 'door'): string {
  const names = DEFS.filter((d) => d.scope === scope || d.scope === 'any').flatMap((d) => [d.name, ...(d.aliases ?? [])]);
  let best: string | null = null;
  let bestD = 3;
  for (const n of names) {
    const d = distance(key.toLowerCase(), n.toLowerCase());
    if (d < bestD) { best = n; bestD = d; }
  }
  if (best !== null) return `did you mean ${best}?`;
  const canonical = DEFS.filter((d) => d.scope === scope).map((d) => d.name);
  return `${scope === 'options' ? '[options]' : 'a door'} takes ${canonical.join(', ')}`;
}
