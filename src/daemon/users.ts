// The unprivileged identity of the reader. Node has no getpwnam(), so the
// system's own `id` and `getent` answer (they go through NSS, as login does).

import { spawnSync } from 'node:child_process';

export interface Identity {
  user: string;
  uid: number;
  gid: number;
  /** The group name of gid, for messages. */
  group: string;
}

function ask(cmd: string, args: string[]): string | null {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  return r.status === 0 ? r.stdout.trim() : null;
}

/**
 * `user`, with the group `adm` when it exists: on Debian, `adm` may read
 * /var/log/kern.log and the journal, which is all the reader needs. Else the
 * user's own group. Throws an actionable error for an unknown user.
 */
export function readerIdentity(user: string): Identity {
  const uid = ask('id', ['-u', user]);
  const gid = ask('id', ['-g', user]);
  if (uid === null || gid === null) {
    throw new Error(
      `the log reader's user "${user}" does not exist: create a user for knocklog alone ` +
        '(useradd --system --no-create-home --shell /usr/sbin/nologin knocklog; README, Install), ' +
        'or set User in [options]',
    );
  }
  if (Number(uid) === 0) {
    throw new Error(
      `the log reader's user "${user}" is root (uid 0): the process that parses untrusted input must hold ` +
        'no privilege. Set User to a user of its own, such as knocklog',
    );
  }
  const adm = ask('getent', ['group', 'adm'])?.split(':');
  if (adm !== undefined && adm[2] !== undefined) return { user, uid: Number(uid), gid: Number(adm[2]), group: 'adm' };
  return { user, uid: Number(uid), gid: Number(gid), group: ask('id', ['-gn', user]) ?? gid };
}
