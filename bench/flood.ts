// A spoofed SYN flood at the first knock port while a legitimate client
// knocks the whole sequence, in the netns lab only (hping3 runs in the client
// namespace, aimed at the server's address, bounded by a count and a timeout),
// at rising rates. Side by side, one at a time: knockd (pcap: sees every
// packet); knocklog reading rsyslog's kern.log behind `knocklog rules` (LOG,
// budgets per source and per port); knocklog on `ulogd-socket:` behind
// `knocklog rules --via nflog` (no budget) and ulogd2 from `--ulogd-conf`.
// For each: does the door open during the flood and how late, the CPU time of
// the processes on the path, their peak memory, and the bytes written to disk.

import { existsSync, readFileSync, statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  createLab, KNOCKLOG_CLI, runKnocklog, startRsyslog, synFlood, waitFor, type Daemon, type Lab,
} from '../lab/lab.js';
import { socketDir, startSocketUlogd } from '../lab/socket.js';
import { knockAndWait, waitClosed } from './door.js';
import { childWith, cpuSeconds, memory } from './proc.js';
import { labOrSkip } from './stats.js';

const PROTECTED = 2222;
const SEQUENCE = [7000, 8000, 9000];
/** hping3's gaps (µs), one run each: at most 1e6/gap packets a second; what hping3 reaches here is measured. */
const GAPS_US = [1000, 250, 100, 20];
/** Each flood: this long at the nominal rate (count = duration / gap; hping3 reaches less), cut by the timeout. */
const FLOOD_MS = 6000;
const FLOOD_TIMEOUT_S = 20;
/** The legitimate client knocks this long after the flood started, and waits this long for the port. */
const KNOCK_AFTER_MS = 2000;
const KNOCK_WAIT_MS = 5000;
/** The NFLOG group of the socket path (the lab's standard one stays free). */
const GROUP = 30;

const CONF = (extra: string) => `[options]
${extra}[bench]
  sequence = ${SEQUENCE.join(',')}
  seq_timeout = 5
  start_command = iptables -I INPUT -s %IP% -p tcp --dport ${PROTECTED} -j ACCEPT
  cmd_timeout = 1
  stop_command = iptables -D INPUT -s %IP% -p tcp --dport ${PROTECTED} -j ACCEPT
`;

const size = (path: string) => (existsSync(path) ? statSync(path).size : 0);

/** One contender's processes and files while it runs. */
interface Running {
  /** Processes on the knock path, by role: CPU and peak memory are read for each. */
  pids: () => [string, number | null][];
  /** Files on disk it writes, by role. */
  files: [string, string][];
  daemon: Daemon;
  stop(): Promise<void>;
}

interface Contender {
  name: string;
  /** Refills the KNOCKLOG chains for this contender (the jump from INPUT is loaded once). */
  rules: (lab: Lab) => Promise<void>;
  start: (lab: Lab, tag: string) => Promise<Running>;
}

interface Outcome {
  pps: number;
  sent: number;
  floodMs: number | null;
  cpu: [string, number][];
  peakMb: [string, number][];
  bytes: [string, number][];
}

async function warmUp(lab: Lab, name: string, d: Daemon): Promise<void> {
  for (let i = 0; (await knockAndWait(lab, SEQUENCE, PROTECTED, 3000)) === null; i++) {
    if (i >= 10) throw new Error(`${name} never opened the door:\n${d.output.slice(-2000)}`);
  }
  await waitClosed(lab, PROTECTED);
}

/** Starts the contender, floods with `gapUs`, knocks inside the flood; measures while it still runs. */
async function trial(lab: Lab, c: Contender, gapUs: number, tag: string): Promise<Outcome> {
  const r = await c.start(lab, tag);
  try {
    await warmUp(lab, c.name, r.daemon);
    const cpu0 = r.pids().map(([, pid]) => (pid === null ? NaN : cpuSeconds(pid)));
    const bytes0 = r.files.map(([, f]) => size(f));
    const t0 = Date.now();
    const sending = synFlood(lab, SEQUENCE[0] ?? 7000, {
      count: Math.round((FLOOD_MS * 1000) / gapUs), gapUs, timeoutS: FLOOD_TIMEOUT_S,
    });
    await new Promise((res) => setTimeout(res, KNOCK_AFTER_MS));
    const floodMs = await knockAndWait(lab, SEQUENCE, PROTECTED, KNOCK_WAIT_MS);
    const sent = await sending;
    const seconds = (Date.now() - t0) / 1000;
    await new Promise((res) => setTimeout(res, 1000)); // what was queued is handled (or dropped) by now
    const pids = r.pids();
    const out: Outcome = {
      pps: Math.round(sent / seconds),
      sent,
      floodMs,
      cpu: pids.map(([who, pid], i) => [who, pid === null ? NaN : cpuSeconds(pid) - (cpu0[i] ?? NaN)]),
      peakMb: pids.map(([who, pid]) => [who, pid === null ? NaN : memory(pid)?.peakMb ?? NaN]),
      bytes: r.files.map(([who, f], i) => [who, size(f) - (bytes0[i] ?? 0)]),
    };
    if (floodMs !== null) await waitClosed(lab, PROTECTED);
    return out;
  } finally {
    await r.stop();
  }
}

const kb = (n: number) => {
  if (n < 1024) return `${n} B`;
  return n < 1024 * 1024 ? `${(n / 1024).toFixed(1)} KB` : `${(n / 1024 / 1024).toFixed(1)} MB`;
};

function report(name: string, o: Outcome): void {
  const opened = o.floodMs === null ? `did NOT open within ${KNOCK_WAIT_MS} ms` : `opened after ${o.floodMs} ms`;
  const sum = (xs: [string, number][]) => xs.reduce((n, [, v]) => n + (Number.isNaN(v) ? 0 : v), 0);
  console.log(`  ${name} @ ${o.pps}/s (${o.sent} packets): ${opened}`);
  console.log(`    CPU ${sum(o.cpu).toFixed(2)} s (${o.cpu.map(([w, v]) => `${w} ${v.toFixed(2)}`).join(', ')}); `
    + `peak RSS ${o.peakMb.map(([w, v]) => `${w} ${v.toFixed(1)} MB`).join(', ')}`);
  console.log(`    written to disk: ${kb(sum(o.bytes))} (${o.bytes.map(([w, v]) => `${w} ${kb(v)}`).join(', ')})`);
}

/** knocklog run with `source`; its LogFile (knockd's line format) is what it writes to disk itself. */
function startKnocklog(lab: Lab, tag: string, source: string, extra = ''): { d: Daemon; logFile: string } {
  const logFile = lab.path(`knocklog-${tag}.log`);
  const options = `  PidFile = ${lab.path(`knocklog-${tag}.pid`)}\n  LogFile = ${logFile}\n${extra}`;
  const conf = lab.writeFile(`knocklog-${tag}.conf`, CONF(options));
  const d = lab.spawn(`knocklog ${tag}`, 'server', [
    process.execPath, KNOCKLOG_CLI, 'run', '-c', conf, '-s', source, '--prefix', lab.prefix,
    '--state-dir', lab.path(`state-${tag}`),
  ]);
  return { d, logFile };
}

const knocklogPids = (d: Daemon): [string, number | null][] => {
  const executor = d.child.pid ?? null;
  return [['executor', executor], ['reader', executor === null ? null : childWith(executor, 'reader.js')]];
};

async function loadRules(lab: Lab, args: string[]): Promise<void> {
  const conf = lab.path('rules.conf');
  const { stdout } = await runKnocklog(['rules', '-c', conf, '--prefix', lab.prefix, '--no-jump', ...args]);
  await lab.serverExec('iptables-restore', ['--noflush'], stdout);
}

function contenders(rsyslogPid: () => number | null, kernLog: string): Contender[] {
  return [
    {
      name: 'knockd 0.8',
      rules: async (lab) => void (await lab.serverExec('iptables', ['-F', 'KNOCKLOG'])),
      start: async (lab, tag) => {
        const conf = lab.writeFile(`knockd-${tag}.conf`, CONF(''));
        const logFile = lab.path(`knockd-${tag}.log`);
        // No -D/-v: knockd would print a line per packet, which a real setup does not do.
        const pidFile = lab.path(`knockd-${tag}.pid`);
        const argv = ['knockd', '-i', lab.serverIf, '-c', conf, '-g', logFile, '-p', pidFile];
        const d = lab.spawn('knockd', 'server', argv);
        return {
          daemon: d, pids: () => [['knockd', d.child.pid ?? null]], files: [['knockd log', logFile]],
          stop: () => d.stop(),
        };
      },
    },
    {
      name: 'knocklog (rsyslog kern.log)',
      rules: (lab) => loadRules(lab, []),
      start: async (lab, tag) => {
        const { d, logFile } = startKnocklog(lab, tag, `file:${kernLog}`);
        return {
          daemon: d,
          pids: () => [...knocklogPids(d), ['rsyslogd', rsyslogPid()]],
          files: [['kern.log', kernLog], ['knocklog LogFile', logFile]],
          stop: () => d.stop(),
        };
      },
    },
    {
      name: 'knocklog (ulogd-socket)',
      rules: (lab) => loadRules(lab, ['--via', 'nflog', '--group', String(GROUP)]),
      start: async (lab, tag) => {
        const source = `ulogd-socket:${socketDir(lab, `sock-${tag}`)}/ulogd.sock`;
        const { d, logFile } = startKnocklog(lab, tag, source, `  Sources = ${source}\n`);
        await waitFor('knocklog to listen', () => d.output.includes(': listening (mode'), { describe: () => d.output });
        const conf = lab.path(`knocklog-${tag}.conf`);
        const u = await startSocketUlogd(lab, `ulogd-${tag}`, conf, GROUP, (own) =>
          waitFor('ulogd2 to connect', () => d.output.includes('ulogd2 connected'), {
            describe: () => `${d.output}\n${own()}`,
          }));
        return {
          daemon: d,
          pids: () => [...knocklogPids(d), ['ulogd', u.daemon.child.pid ?? null]],
          files: [['ulogd log', lab.path(`ulogd-${tag}.log`)], ['knocklog LogFile', logFile]],
          stop: async () => {
            await u.daemon.stop();
            await d.stop();
          },
        };
      },
    },
  ];
}

export async function floodBench(): Promise<void> {
  if (!labOrSkip('flood', ['rsyslog', 'ulogd', 'knockd', 'hping3'])) return;
  const lab = await createLab();
  try {
    await lab.installStandardFirewall({ protectedPort: PROTECTED });
    const rules = await runKnocklog(['rules', '-c', lab.writeFile('rules.conf', CONF('')), '--prefix', lab.prefix]);
    await lab.serverExec('iptables-restore', ['--noflush'], rules.stdout);
    await lab.listen(PROTECTED);
    const rsyslog = await startRsyslog(lab);
    const rsyslogPid = () => Number(readFileSync(lab.path('rsyslog.pid'), 'utf8').trim()) || null;
    console.log(
      `flood: hping3 --rand-source -S -p ${SEQUENCE[0]} -i uGAP -c ${FLOOD_MS / 1000} s/GAP (client ns -> server), `
        + `a legitimate knock ${KNOCK_AFTER_MS / 1000} s into it (waits ${KNOCK_WAIT_MS / 1000} s for the port); `
        + 'one daemon at a time; '
        + 'CPU and bytes from the flood\'s start to 1 s after its end',
    );
    for (const [i, c] of contenders(rsyslogPid, rsyslog.kernLog.path).entries()) {
      await c.rules(lab);
      for (const gap of GAPS_US) report(c.name, await trial(lab, c, gap, `c${i}-${gap}`));
    }
  } finally {
    await lab.destroy();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await floodBench();
