// Can the real lab run here? Root, Linux, the tools, and a kernel that logs
// from inside a network namespace. Tests skip with the reason, or fail with it
// when KNOCKLOG_REQUIRE_E2E=1 (CI), where a silent skip would hide a broken lab.

import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import type { TestContext } from 'node:test';
import { standardRules } from './firewall.js';

export type Need = 'rsyslog' | 'ulogd' | 'knockd' | 'knock' | 'nft' | 'journald' | 'hping3';
export type Availability = { ok: true } | { ok: false; reason: string };

export const ULOGD_PLUGINS = '/usr/lib/x86_64-linux-gnu/ulogd';
export const ULOGD_PLUGIN_NAMES = [
  'inppkt_NFLOG',
  'raw2packet_BASE',
  'filter_IFINDEX',
  'filter_IP2STR',
  'filter_PRINTPKT',
  'filter_HWHDR',
  'output_LOGEMU',
  'output_JSON',
];

const BASE_COMMANDS = ['ip', 'iptables', 'ip6tables', 'iptables-restore', 'ip6tables-restore', 'setpriv'];
// knock: knockd's client (lab.knock), from the knockd package.
const NEED_COMMANDS: Record<Need, string[]> = {
  rsyslog: ['rsyslogd', 'flock', 'logger'],
  ulogd: ['ulogd'],
  knockd: ['knockd', 'stdbuf'],
  knock: ['knock'],
  nft: ['nft'],
  journald: ['journalctl', 'systemd-tmpfiles', 'flock', 'logger'], hping3: ['hping3'],
};
const PACKAGES =
  'apt-get install iproute2 iptables nftables ulogd2 ulogd2-json rsyslog knockd hping3 util-linux systemd';

function onPath(cmd: string): boolean {
  return (process.env['PATH'] ?? '').split(':').some((d) => d !== '' && existsSync(`${d}/${cmd}`));
}

/** Other processes holding /proc/kmsg (a system rsyslog's imklog): a second reader would get only part of the lines. */
export function kmsgReaders(): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue; // exited meanwhile
    }
    const reads = fds.some((fd) => {
      try {
        return readlinkSync(`/proc/${pid}/fd/${fd}`) === '/proc/kmsg';
      } catch {
        return false;
      }
    });
    if (!reads) continue;
    let cmdline: string;
    try {
      cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').trim();
    } catch {
      continue; // exited meanwhile
    }
    // Another lab's rsyslog holds the machine-wide lock; ours waits for it.
    if (!cmdline.includes('/knocklog-lab-')) found.push(`pid ${pid} (${cmdline})`);
  }
  return found;
}

export const JOURNALD = '/lib/systemd/systemd-journald';

/** Running systemd-journald processes: `pid PID, parent PPID`. */
export function journaldProcesses(): string[] {
  const found: string[] = [];
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      // comm is cut to 15 characters: "systemd-journal".
      const m = /^\d+ \((.*)\) \S (\d+) /.exec(readFileSync(`/proc/${pid}/stat`, 'utf8'));
      if (m !== null && m[1] === 'systemd-journal') found.push(`pid ${pid}, parent ${m[2]}`);
    } catch {
      // exited meanwhile
    }
  }
  return found;
}

/** Builds a throwaway namespace and loads the lab's real rule set into both tables. */
function probeKernel(): string | null {
  const ns = `kl-${process.pid}-probe`;
  const rules = standardRules('KLprobe', 1, { knock: ['1:tcp', '2:udp'], via: 'both' });
  const step = (argv: string[], input?: string) => {
    const r = spawnSync(argv[0]!, argv.slice(1), { input, encoding: 'utf8' });
    return r.status === 0 ? null : `${argv.join(' ')}: ${(r.stderr || r.error?.message || '').trim()}`;
  };
  const made = step(['ip', 'netns', 'add', ns]);
  if (made) return made;
  try {
    return (
      step(['ip', 'netns', 'exec', ns, 'iptables-restore'], rules) ??
      step(['ip', 'netns', 'exec', ns, 'ip6tables-restore'], rules)
    );
  } finally {
    step(['ip', 'netns', 'del', ns]);
  }
}

function check(needs: readonly Need[]): string | null {
  if (process.platform !== 'linux') return `needs Linux, this is ${process.platform}`;
  if (process.getuid?.() !== 0) return 'needs root (network namespaces, iptables, /dev/kmsg)';
  const missing = [...BASE_COMMANDS, ...needs.flatMap((n) => NEED_COMMANDS[n])].filter((c) => !onPath(c));
  if (missing.length) return `missing commands ${missing.join(', ')} on PATH (${PACKAGES})`;
  try {
    accessSync('/dev/kmsg', constants.R_OK | constants.W_OK);
  } catch (e) {
    return `cannot read /dev/kmsg: ${(e as Error).message}`;
  }
  if (!existsSync('/proc/sys/net/netfilter/nf_log_all_netns')) {
    return 'the kernel has no net.netfilter.nf_log_all_netns: it cannot log from inside a network namespace';
  }
  if (needs.includes('ulogd')) {
    const absent = ULOGD_PLUGIN_NAMES.map((p) => `${ULOGD_PLUGINS}/ulogd_${p}.so`).filter((f) => !existsSync(f));
    if (absent.length) return `missing ulogd2 plugins ${absent.join(', ')} (apt-get install ulogd2 ulogd2-json)`;
  }
  if (needs.includes('rsyslog')) {
    const readers = kmsgReaders();
    if (readers.length) {
      return (
        `another program reads /proc/kmsg (${readers.join('; ')}); ` +
        "the lab's rsyslog would see only part of the kernel lines. Stop it (systemctl stop rsyslog)"
      );
    }
  }
  if (needs.includes('journald')) {
    if (!existsSync(JOURNALD)) return `missing ${JOURNALD} (${PACKAGES})`;
    // A lab's journald is its test process's child; one whose parent is PID 1 is the system's.
    const system = journaldProcesses().filter((p) => p.endsWith(', parent 1'));
    if (system.length) {
      return (
        `the system's systemd-journald runs (${system.join('; ')}); ` +
        'the lab starts its own, which would take its sockets. Run it where none runs (a container without systemd)'
      );
    }
  }
  if (kernelProbe === undefined) kernelProbe = probeKernel();
  return kernelProbe;
}

let kernelProbe: string | null | undefined;

export function e2eAvailable(needs: readonly Need[] = []): Availability {
  const reason = check(needs);
  return reason === null ? { ok: true } : { ok: false, reason };
}

/**
 * At the start of an e2e test: true when the lab can run. Otherwise the test
 * is skipped with the reason, or, under KNOCKLOG_REQUIRE_E2E=1, fails with it.
 */
export function requireLabOrSkip(t: TestContext, needs: readonly Need[] = []): boolean {
  const a = e2eAvailable(needs);
  if (a.ok) return true;
  if (process.env['KNOCKLOG_REQUIRE_E2E'] === '1') {
    throw new Error(`the real lab cannot run here, and KNOCKLOG_REQUIRE_E2E=1 makes that a failure: ${a.reason}`);
  }
  t.skip(`e2e lab unavailable: ${a.reason}`);
  return false;
}
