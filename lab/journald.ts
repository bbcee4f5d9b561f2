// systemd-journald for the lab, without systemd as PID 1: started by hand, it
// binds its sockets under /run/systemd/journal, reads /dev/kmsg and writes a
// volatile journal under /run/log/journal, where `journalctl -k -f` follows it.
//
// Those paths are fixed and there is one kernel log: only one journald may run
// on the machine. Each lab's journald therefore runs while a machine-wide flock
// is held, and its files are removed before the lock is released (and, should
// a lab have been killed outright, by the next lab before it starts one). A
// journal there that no lab made is never removed: the lab refuses to run.

import { existsSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { JOURNALD, journaldProcesses } from './available.js';
import type { Lab } from './lab.js';
import { Daemon, run, waitFor } from './proc.js';

export const JOURNALD_LOCK = '/run/knocklog-lab-journald.lock';
const RUNTIME_DIR = '/run/systemd/journal';
const JOURNAL_DIR = '/run/log/journal';
/** Exists while a lab's journald directories exist: only those are removed. */
const OWNED = '/run/knocklog-lab-journald.owned';
/** flock's exit status when it gave up waiting for the lock. */
const LOCK_TIMEOUT_EXIT = 75;

export interface Journald {
  daemon: Daemon;
  /** journald's syslog socket: what /dev/log links to on a systemd host (the lab's host has no /dev/log). */
  syslogSocket: string;
  /** The records journald holds whose MESSAGE contains `text`, as `journalctl -o json` prints them (read as root). */
  records(text: string): Promise<Record<string, unknown>[]>;
  /** Stops journald, removes its runtime and journal directories, then releases the lock. Idempotent. */
  stop(): Promise<void>;
}

function removeDirs(): void {
  rmSync(RUNTIME_DIR, { recursive: true, force: true });
  rmSync(JOURNAL_DIR, { recursive: true, force: true });
  rmSync(OWNED, { force: true });
}

export async function startJournald(lab: Lab, { lockTimeoutS = 120 } = {}): Promise<Journald> {
  // The inner setpriv: the holder is flock's child, keeps flock's descriptor, and must die with it.
  const lock = new Daemon('journald lock', [
    'flock', '-w', String(lockTimeoutS), '-E', String(LOCK_TIMEOUT_EXIT), JOURNALD_LOCK,
    'setpriv', '--pdeathsig', 'TERM', 'sh', '-c', 'echo locked; exec sleep infinity',
  ]);
  let daemon: Daemon | null = null;
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await daemon?.stop(10_000);
    // Still under the lock: the next lab's journald cannot have started.
    if (daemon !== null) removeDirs();
    await lock.stop();
  };
  try {
    await waitFor(
      `the lock ${JOURNALD_LOCK} (another lab's journald holds it; waiting up to ${lockTimeoutS} s)`,
      () => {
        if (/^locked$/m.test(lock.output)) return true;
        if (lock.child.exitCode === LOCK_TIMEOUT_EXIT) {
          throw new Error(
            `other labs' journald held ${JOURNALD_LOCK} for ${lockTimeoutS} s (too many e2e runs at once?)`,
          );
        }
        if (!lock.running) throw new Error(`flock exited: ${lock.output}`);
        return undefined;
      },
      { timeoutMs: (lockTimeoutS + 10) * 1000 },
    );
    // A journald of a lab killed outright may still be shutting down.
    await waitFor('no other systemd-journald to run', () => journaldProcesses().length === 0, {
      timeoutMs: 5000,
    }).catch(() => {
      throw new Error(
        `a systemd-journald already runs (${journaldProcesses().join('; ')}): ` +
          "the lab starts its own, which would take that one's sockets",
      );
    });
    // Left by a lab that was killed outright (nothing runs now, and we hold the lock).
    if (existsSync(OWNED)) removeDirs();
    const foreign = [RUNTIME_DIR, JOURNAL_DIR].filter((d) => existsSync(d));
    if (foreign.length) {
      throw new Error(`a journald that no lab started left ${foreign.join(' and ')}: remove them to run the lab`);
    }
    writeFileSync(OWNED, '');
    const jd = new Daemon('systemd-journald', [JOURNALD]);
    daemon = jd;
    await waitFor(
      'systemd-journald to open its journal',
      () => {
        if (!jd.running) throw new Error(`systemd-journald exited: ${jd.output}`);
        if (!existsSync(`${RUNTIME_DIR}/socket`) || !existsSync(JOURNAL_DIR)) return undefined;
        const machine = readdirSync(JOURNAL_DIR)[0];
        return machine !== undefined && existsSync(`${JOURNAL_DIR}/${machine}/system.journal`);
      },
      { describe: () => jd.output },
    );
    // What boot does once journald runs (systemd-tmpfiles-setup): ACLs that let the
    // group adm read the journal, as knocklog's reader (knocklog:adm) does.
    await run(['systemd-tmpfiles', '--create', '--prefix', JOURNAL_DIR]);
    // Ready when a line written to the kernel log after it started is in the journal.
    // (Writes to /dev/kmsg are rate-limited to 10 per 5 s, hence one a second.)
    const marker = `${lab.prefix} journald ready`;
    let lastMark = 0;
    await waitFor(
      'systemd-journald to journal a kernel line',
      async () => {
        if (!jd.running) throw new Error(`systemd-journald exited: ${jd.output}`);
        const { stdout } = await run(['journalctl', '-k', '-o', 'cat', '-n', '200', '--no-pager']);
        if (stdout.includes(marker)) return true;
        if (Date.now() - lastMark >= 1000) {
          lastMark = Date.now();
          writeFileSync('/dev/kmsg', `<14>${marker}\n`);
        }
        return undefined;
      },
      { describe: () => jd.output },
    );
    const records = async (text: string) => {
      const { stdout } = await run(['journalctl', '-o', 'json', '--no-pager']);
      return stdout
        .split('\n')
        .filter((l) => l.includes(text))
        .map((l) => JSON.parse(l) as Record<string, unknown>)
        .filter((r) => typeof r['MESSAGE'] === 'string' && r['MESSAGE'].includes(text));
    };
    return { daemon: jd, syslogSocket: `${RUNTIME_DIR}/dev-log`, records, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}
