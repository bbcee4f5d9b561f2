// rsyslog writing the kernel's messages to the lab's own kern.log files, as
// Debian's rsyslog writes /var/log/kern.log.
//
// imklog reads /proc/kmsg, and a read there takes the line away from every
// other reader: only one imklog may run on the machine. Each lab's rsyslog
// therefore runs under a machine-wide flock, which is held for exactly as long
// as that rsyslog lives. At start rsyslog writes out every kernel line no one
// has read yet, stamped with the current time, not the packet's.

import { writeFileSync } from 'node:fs';
import type { Lab } from './lab.js';
import { fileLog, textMatcher, type LabLog } from './logs.js';
import { waitFor, type Daemon } from './proc.js';

export const RSYSLOG_LOCK = '/run/knocklog-lab-rsyslog.lock';

export interface Rsyslog {
  daemon: Daemon;
  /** Debian's traditional format: `Nov 24 23:21:32 host kernel: [ uptime] MSG`. */
  kernLog: LabLog & { path: string };
  /** rsyslog's default high-precision format: `2026-11-24T23:20:13.025185+00:00 host kernel: ...`. */
  kernPreciseLog: LabLog & { path: string };
  /** Everything of the user facility, such as userspace writes to /dev/kmsg (these never reach kern.*). */
  userLogPath: string;
  /** Every facility, as Debian's /var/log/syslog (traditional format): where `logger` lines land too. */
  allLogPath: string;
  /** This rsyslog's own /dev/log: `logger --socket PATH` writes to it (the system's /dev/log is not ours). */
  socketPath: string;
  stop(): Promise<void>;
}

/** flock's exit status when it gave up waiting for the lock. */
const LOCK_TIMEOUT_EXIT = 75;

export async function startRsyslog(lab: Lab, { lockTimeoutS = 120 } = {}): Promise<Rsyslog> {
  const kern = lab.path('kern.log');
  const precise = lab.path('kern-precise.log');
  const user = lab.path('user.log');
  const all = lab.path('syslog');
  const socket = lab.path('log.sock');
  // Created before rsyslog starts (it appends): a reader can start at their end before the first line.
  for (const f of [kern, precise, user, all]) writeFileSync(f, '', { mode: 0o644 });
  // permitNonKernelFacility: userspace writes to /dev/kmsg (the readiness marker) reach user.log.
  // imuxsock listens on a private socket only: the host's /dev/log stays with its own logger.
  const conf = lab.writeFile(
    'rsyslog.conf',
    `global(workDirectory="${lab.dir}")
module(load="imklog" permitNonKernelFacility="on")
module(load="imuxsock" SysSock.Use="off")
input(type="imuxsock" Socket="${socket}")
kern.* action(type="omfile" file="${kern}" template="RSYSLOG_TraditionalFileFormat")
kern.* action(type="omfile" file="${precise}" template="RSYSLOG_FileFormat")
user.* action(type="omfile" file="${user}")
*.* action(type="omfile" file="${all}" template="RSYSLOG_TraditionalFileFormat")
`,
  );
  // The inner setpriv: rsyslogd is flock's child, and must die with it too.
  const daemon = lab.spawn('rsyslogd', 'host', [
    'flock', '-w', String(lockTimeoutS), '-E', String(LOCK_TIMEOUT_EXIT), RSYSLOG_LOCK,
    'setpriv', '--pdeathsig', 'TERM', 'rsyslogd', '-n', '-f', conf, '-i', lab.path('rsyslog.pid'),
  ]);
  // Ready when a line written to the kernel log after it started comes out.
  // Repeated: while we wait for the lock, the rsyslog holding it takes our markers.
  // (Writes to /dev/kmsg are rate-limited to 10 per 5 s, hence one a second.)
  const logged = fileLog('rsyslog user.log', user, 'kernel', (l) => l.includes(`${lab.prefix} rsyslog ready`));
  let lastMark = 0;
  await waitFor(
    `rsyslogd to start (it waits up to ${lockTimeoutS} s for ${RSYSLOG_LOCK}, held by another lab's rsyslog)`,
    () => {
      if (logged.lines().length > 0) return true;
      if (daemon.child.exitCode === LOCK_TIMEOUT_EXIT) {
        throw new Error(
          `rsyslogd never started: other labs' rsyslog held ${RSYSLOG_LOCK} for ${lockTimeoutS} s ` +
            '(too many e2e runs at once?)',
        );
      }
      if (!daemon.running) throw new Error(`rsyslogd exited: ${daemon.output}`);
      if (Date.now() - lastMark >= 1000) {
        lastMark = Date.now();
        writeFileSync('/dev/kmsg', `<14>${lab.prefix} rsyslog ready\n`);
      }
      return undefined;
    },
    { timeoutMs: (lockTimeoutS + 10) * 1000, describe: () => daemon.output },
  );
  const match = textMatcher(lab.prefix);
  return {
    daemon,
    kernLog: fileLog('rsyslog kern.log', kern, 'kernel', match),
    kernPreciseLog: fileLog('rsyslog kern-precise.log', precise, 'kernel', match),
    userLogPath: user,
    allLogPath: all,
    socketPath: socket,
    stop: () => daemon.stop(),
  };
}
