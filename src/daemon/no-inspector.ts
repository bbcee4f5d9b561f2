// Imported first by every entry point. Node's default action for SIGUSR1 is to
// start an unauthenticated inspector on 127.0.0.1:9229, through which any
// local user could run code in the process (audit H1). A listener of our own
// replaces that action; `--disable-sigusr1` needs Node >= 22.14.

import inspector from 'node:inspector';

process.on('SIGUSR1', () => undefined);

/** Why this process must not run as the daemon: an inspector was opened from the command line or NODE_OPTIONS. */
export function inspectorProblem(): string | null {
  const url = inspector.url();
  if (url === undefined) return null;
  return `a Node inspector is open (${url}), from --inspect in the command line or NODE_OPTIONS: ` +
    'anyone who can connect to it runs code as this process. Start knocklog without it';
}
