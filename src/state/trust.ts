// Who could have written a file that the privileged executor acts on. The
// executor runs commands as root from what its state files and config say, so
// each of them, and every directory above, must be writable by no one but
// root and the executor's own user (sshd's StrictModes is the model). A
// sticky, world-writable parent such as /tmp is fine: others cannot rename or
// remove what is ours in it.

import { lstatSync, realpathSync, type Stats } from 'node:fs';
import { dirname, resolve } from 'node:path';

/** Why `path` cannot be trusted, with what to do; thrown before anything acts on it. */
export class TrustError extends Error {}

function me(): number {
  return process.geteuid?.() ?? 0;
}

function kindOf(st: Stats): string {
  if (st.isSymbolicLink()) return 'a symbolic link';
  if (st.isDirectory()) return 'a directory';
  if (st.isFile()) return 'a regular file';
  return 'a special file';
}

/** The problem with one path component that only root or `uid` may write, or null. */
function ownerProblem(path: string, st: Stats, uid: number, what: string, stickyOk: boolean): string | null {
  if (st.uid !== uid && st.uid !== 0) {
    return (
      `${what} ${path} is owned by uid ${st.uid}, not by root or uid ${uid} (knocklog's): another user could ` +
      `have written what knocklog would run as root. Fix: chown ${uid} ${path} ` +
      '(after checking what it holds), or remove it'
    );
  }
  const sticky = (st.mode & 0o1000) !== 0;
  if ((st.mode & 0o002) !== 0 && sticky && !stickyOk) {
    return `${what} ${path} is writable by others (mode ${(st.mode & 0o7777).toString(8)}): a shared directory, ` +
      'where any user may create files. Fix: use a directory of its own';
  }
  if ((st.mode & 0o002) !== 0 && !(stickyOk && sticky)) {
    return `${what} ${path} is writable by others (mode ${(st.mode & 0o7777).toString(8)}). Fix: chmod o-w ${path}`;
  }
  if ((st.mode & 0o020) !== 0 && !(stickyOk && sticky)) {
    return `${what} ${path} is writable by its group (mode ${(st.mode & 0o7777).toString(8)}). Fix: chmod g-w ${path}`;
  }
  return null;
}

/** The directories above `path`, nearest first. */
function parents(path: string): string[] {
  const out: string[] = [];
  for (let p = dirname(resolve(path)); ; p = dirname(p)) {
    out.push(p);
    if (p === dirname(p)) return out;
  }
}

function lstatOrNull(path: string): Stats | null {
  try {
    return lstatSync(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new TrustError(`cannot check ${path}: ${(e as Error).message}`);
  }
}

/**
 * The first problem with the directories above `path`, or null. A symbolic
 * link on the way is checked for its owner (its mode means nothing), and the
 * directories it leads to are checked too: the kernel follows it.
 */
export function parentsProblem(path: string, uid = me()): string | null {
  let deepest: string | null = null;
  for (const p of parents(path)) {
    const st = lstatOrNull(p);
    if (st === null) continue; // created by us later, under a checked parent
    deepest ??= p;
    if (st.isSymbolicLink()) {
      if (st.uid !== uid && st.uid !== 0) {
        return `the symbolic link ${p} is owned by uid ${st.uid}, not by root or uid ${uid} (knocklog's): ` +
          `another user could point it elsewhere. Fix: replace it with a directory or a link of root's`;
      }
      continue;
    }
    const problem = ownerProblem(p, st, uid, 'the directory', true);
    if (problem !== null) return problem;
  }
  if (deepest === null) return null;
  const real = realpathSync(deepest);
  if (real === deepest) return null;
  for (const p of [real, ...parents(real)]) {
    const problem = ownerProblem(p, lstatSync(p), uid, 'the directory', true);
    if (problem !== null) return problem;
  }
  return null;
}

/**
 * The problem with `path`, which must be `kind` (or absent: `mayBeMissing`),
 * owned by `uid` (or root), writable by no one else, and no symbolic link;
 * and so must the directories above it. Null when all is well.
 */
export function trustProblem(
  path: string,
  kind: 'file' | 'directory',
  mayBeMissing: boolean,
  uid = me(),
): string | null {
  try {
    return checkPath(path, kind, mayBeMissing, uid);
  } catch (e) {
    // A path that cannot even be looked at (EACCES, ENOTDIR, ELOOP) cannot be trusted: a problem, never a crash.
    return e instanceof TrustError ? e.message : `cannot check ${path}: ${(e as Error).message}`;
  }
}

function checkPath(path: string, kind: 'file' | 'directory', mayBeMissing: boolean, uid: number): string | null {
  const st = lstatOrNull(path);
  if (st === null) return mayBeMissing ? parentsProblem(path, uid) : `${path} does not exist`;
  const wanted = kind === 'file' ? st.isFile() : st.isDirectory();
  if (!wanted) {
    return `${path} is ${kindOf(st)}, not ${kind === 'file' ? 'a regular file' : 'a directory'}: ` +
      `knocklog acts on it as root and follows no links there. Fix: remove it (and put a real ${kind} there if needed)`;
  }
  const what = kind === 'file' ? 'the file' : 'the directory';
  return ownerProblem(path, st, uid, what, false) ?? parentsProblem(path, uid);
}

