// What `knocklog run` checks before it acts on anything: that no other user
// could have written what the root executor reads (config, one-time files,
// secrets, the state directory), and that the reader's user can read what it
// runs. Each problem is one message that says what to fix; any of them stops
// the start (fail closed).

import { spawnSync } from 'node:child_process';
import { chownSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Config } from '../types.js';
import { trustProblem } from '../state/trust.js';
import type { Identity } from './users.js';

/**
 * Problems with the files the executor reads or writes as root; an empty list
 * when all is well. The PidFile and LogFile are written: a link another user
 * put there would make root write where that user chose.
 */
export function trustProblems(config: Config, configPath: string): string[] {
  const o = config.options;
  const written = [o.pidFile, ...(o.logFile === null ? [] : [o.logFile])];
  const out: (string | null)[] = [
    trustProblem(configPath, 'file', false),
    ...written.map((path) => trustProblem(path, 'file', true)),
  ];
  for (const d of config.doors) {
    if (d.kind === 'oneTime') out.push(trustProblem(d.oneTime.path, 'file', false));
    if (d.kind !== 'timed') continue;
    const t = d.timed;
    if (t.users === undefined) {
      // Sequence_Secret in the config itself has no file of its own.
      if (existsSync(t.secretFrom)) out.push(...secretFileProblems(t.secretFrom, d.name));
      continue;
    }
    out.push(trustProblem(t.secretFrom, 'directory', false));
    for (const u of t.users) out.push(...secretFileProblems(join(t.secretFrom, u.name), d.name));
  }
  return out.filter((p): p is string => p !== null);
}

/** A secret file must be trusted like every file the executor acts on, and be read by no one else. */
function secretFileProblems(path: string, door: string): (string | null)[] {
  const problem = trustProblem(path, 'file', false);
  if (problem !== null) return [problem];
  let mode: number;
  try {
    mode = lstatSync(path).mode;
  } catch (e) {
    return [`cannot check the secret file ${path} of door ${door}: ${(e as Error).message}`];
  }
  if ((mode & 0o044) === 0) return [];
  return [`the secret file ${path} of door ${door} may be read by other users. Fix: chmod 600 ${path}`];
}

/**
 * Creates the state directory if needed (0711: the reader must reach its own
 * subdirectory) and its `reader/` subdirectory for the reader's user; throws
 * the problem when another user could have written it.
 */
export function prepareStateDir(dir: string, readerDir: string, identity: Identity | null): void {
  const before = trustProblem(dir, 'directory', true);
  if (before !== null) throw new Error(`refusing the state directory: ${before}`);
  mkdirSync(dir, { recursive: true, mode: 0o711 });
  // mkdir leaves a directory that appeared meanwhile as it is: look again.
  const after = trustProblem(dir, 'directory', false);
  if (after !== null) throw new Error(`refusing the state directory: ${after}`);
  mkdirSync(readerDir, { recursive: true, mode: 0o700 });
  if (identity !== null) chownSync(readerDir, identity.uid, identity.gid);
}

/** The files a source reads, or the directory it waits in for them. */
function sourcePaths(sources: readonly string[]): string[] {
  const out: string[] = [];
  for (const s of sources) {
    const m = /^(?:file|ulogd):(.+)$/.exec(s);
    if (m === null) continue;
    const path = resolve(m[1]!);
    out.push(existsSync(path) ? path : dirname(path));
  }
  return out;
}

/**
 * The paths the reader's user cannot read: its own code, the packages it
 * imports, and its sources. Asked of the system as that user (the same
 * uid, gid and no supplementary groups as the reader gets), so ACLs and every
 * directory on the way count.
 */
export function unreadableByReader(identity: Identity, reader: URL, sources: readonly string[]): string[] {
  const tailFileDir = dirname(fileURLToPath(import.meta.resolve('tail-file')));
  const paths = [fileURLToPath(reader), tailFileDir, ...sourcePaths(sources)];
  const script =
    'for p; do if [ -d "$p" ]; then [ -r "$p" ] && [ -x "$p" ] || echo "$p"; ' +
    'else [ -r "$p" ] || echo "$p"; fi; done';
  const r = spawnSync('/bin/sh', ['-c', script, 'sh', ...paths], {
    uid: identity.uid,
    gid: identity.gid,
    encoding: 'utf8',
  });
  if (r.status !== 0) return [`(cannot check as ${identity.user}: ${r.error?.message ?? r.stderr})`];
  return r.stdout.split('\n').filter(Boolean);
}

/** Other processes running as `uid`: any of them may signal the reader. */
function processesOf(uid: number): number[] {
  const out: number[] = [];
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const m = /^Uid:\s+(\d+)\s+(\d+)/m.exec(readFileSync(join('/proc', pid, 'status'), 'utf8'));
      if (m !== null && (Number(m[1]) === uid || Number(m[2]) === uid)) out.push(Number(pid));
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

/** A warning when the reader's uid is not its own: whoever shares it can stop or signal the reader. */
export function sharedUserWarning(identity: Identity): string | null {
  const others = processesOf(identity.uid);
  if (identity.user !== 'nobody' && identity.uid !== 65534 && others.length === 0) return null;
  const who = others.length > 0 ? `; processes ${others.slice(0, 5).join(', ')} run as it now` : '';
  return `THE LOG READER RUNS AS ${identity.user} (uid ${identity.uid}), A USER SHARED WITH OTHER SERVICES${who}: ` +
    'they can stop or signal the process that reads the knocks. Create a user for knocklog alone ' +
    '(useradd --system --no-create-home --shell /usr/sbin/nologin knocklog) and set User = knocklog';
}
