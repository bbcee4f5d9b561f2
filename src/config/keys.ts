// The directives knocklog knows: knockd 0.8's, with their aliases, plus
// knocklog's own settings in [options]. Keys are matched case-insensitively.

/** Keys of [options] (knocklog's own ones included). */
export type OptionKey = 'LogFile' | 'PidFile' | 'Interface' | 'Sources' | 'Prefix' | 'StateDir' | 'MaxSources' | 'User';

/** knockd's keys of a door section. */
export type DoorKey =
  | 'Sequence' | 'One_Time_Sequences' | 'Seq_Timeout' | 'TCPFlags'
  | 'Start_Command' | 'Start_Command_6' | 'Cmd_Timeout' | 'Stop_Command' | 'Stop_Command_6' | 'Target';

/** knocklog's keys of a time-based door (src/config/timed.ts). */
export type TimedKey =
  | 'Sequence_Secret' | 'Sequence_Secret_File' | 'Sequence_Secret_Dir' | 'Sequence_Length' | 'Sequence_Step'
  | 'Sequence_Ports' | 'Sequence_Exclude' | 'Sequence_Bind';

export type KeyName = 'UseSyslog' | OptionKey | DoorKey | TimedKey;

export type Scope = 'options' | 'door' | 'any';

type ScopeOf<K extends KeyName> = K extends 'UseSyslog' ? 'any' : K extends OptionKey ? 'options' : 'door';

interface KeyInfo<K extends KeyName> {
  readonly scope: ScopeOf<K>;
  /** Several lines add up instead of being a mistake. */
  readonly repeatable?: true;
  readonly aliases?: readonly string[];
}

/** Every key, with where it belongs: a key's scope is checked against its name's type. */
const KEYS: { readonly [K in KeyName]: KeyInfo<K> } = {
  // knockd accepts the bare UseSyslog in any section, so knocklog does too.
  UseSyslog: { scope: 'any', repeatable: true },
  LogFile: { scope: 'options' },
  PidFile: { scope: 'options' },
  Interface: { scope: 'options' },
  Sources: { scope: 'options' },
  Prefix: { scope: 'options' },
  StateDir: { scope: 'options' },
  MaxSources: { scope: 'options' },
  User: { scope: 'options' },
  Sequence: { scope: 'door' },
  One_Time_Sequences: { scope: 'door' },
  Seq_Timeout: { scope: 'door', aliases: ['Timeout'] },
  TCPFlags: { scope: 'door', repeatable: true },
  Start_Command: { scope: 'door', aliases: ['Command'] },
  Start_Command_6: { scope: 'door', aliases: ['Command_6'] },
  Cmd_Timeout: { scope: 'door' },
  Stop_Command: { scope: 'door' },
  Stop_Command_6: { scope: 'door' },
  Target: { scope: 'door' },
  Sequence_Secret: { scope: 'door' },
  Sequence_Secret_File: { scope: 'door' },
  Sequence_Secret_Dir: { scope: 'door' },
  Sequence_Length: { scope: 'door' },
  Sequence_Step: { scope: 'door' },
  Sequence_Ports: { scope: 'door' },
  Sequence_Exclude: { scope: 'door' },
  Sequence_Bind: { scope: 'door' },
};

/** A known key: its scope tells its name's type apart (a door's key is a DoorKey or a TimedKey). */
export type KeyDef = {
  [K in KeyName]: { readonly name: K; readonly scope: ScopeOf<K>; readonly repeatable: boolean };
}[KeyName];

type Def = KeyDef & { readonly aliases: readonly string[] };

const DEFS: readonly Def[] = (Object.keys(KEYS) as KeyName[]).map((name) => {
  const info: KeyInfo<KeyName> = KEYS[name];
  // TypeScript cannot follow that KEYS[name]'s scope is ScopeOf<typeof name>; KEYS' type says it is.
  return { name, scope: info.scope, repeatable: info.repeatable === true, aliases: info.aliases ?? [] } as Def;
});

const BY_LOWER = new Map<string, KeyDef>();
for (const d of DEFS) {
  for (const n of [d.name, ...d.aliases]) BY_LOWER.set(n.toLowerCase(), d);
}

export function lookupKey(key: string): KeyDef | undefined {
  return BY_LOWER.get(key.toLowerCase());
}

function distance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      const substitution = (prev[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1);
      cur[j] = Math.min((prev[j] ?? 0) + 1, (cur[j - 1] ?? 0) + 1, substitution);
    }
    prev = cur;
  }
  return prev[b.length] ?? 0;
}

/** What to do about an unknown key: the nearest known one in that scope, or the list. */
export function unknownKeyHint(key: string, scope: 'options' | 'door'): string {
  const names = DEFS.filter((d) => d.scope === scope || d.scope === 'any').flatMap((d) => [d.name, ...d.aliases]);
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
