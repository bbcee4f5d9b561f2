// Knock-to-open latency in the netns lab: knockd 0.8 (pcap) against knocklog
// reading rsyslog's kern.log, ulogd2's LOGEMU file, and ulogd2's JSON over
// the `ulogd-socket:` source (the flood-proof path: NFLOG, no file). The
// same door (cmd_timeout 1 s, an iptables ACCEPT for the protected port), the
// same knock timing; each contender's door has its own three ports, so that a
// trial arms exactly one contender while all run side by side. Trials are
// interleaved (A B C D A B C D ...), each after the previous door has closed.
// Latency: `knocklog knock --wait` in the client namespace, which probes the
// port every 5 ms and reports the ms from the last hit until it connects.

import { chmodSync, closeSync, openSync, readSync, watch, writeFileSync, type FSWatcher } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  createLab, KmsgLog, KNOCKLOG_CLI, runKnockd, runKnocklog, startRsyslog, startUlogd, waitFor, type Daemon, type Lab,
} from '../lab/lab.js';
import { socketDir, startSocketUlogd } from '../lab/socket.js';
import { knockAndWait, waitClosed } from './door.js';
import { labOrSkip, median, summarize, formatMs } from './stats.js';

const TRIALS = Number(process.env['KNOCKLOG_BENCH_TRIALS'] ?? 30);
const PROTECTED = 2222;

type Name = 'knockd' | 'knocklog+rsyslog' | 'knocklog+ulogd2' | 'knocklog+socket';
/** The socket contender's NFLOG group (the lab's own group feeds the LOGEMU file). */
const SOCKET_GROUP = 31;
interface Contender {
  name: Name;
  ports: number[];
  /** What knocklog reads, for the breakdown: a file (path), the socket, or nothing to break down (knockd). */
  reads: { file: string } | 'socket' | null;
  daemon: Daemon;
  latencies: number[];
  failures: number;
  parts: Breakdown[];
}

interface Breakdown {
  /** null on the socket path: no file to see the line in (its reader part counts from the kernel's record). */
  delivery: number | null;
  reader: number;
  queue: number;
  command: number;
}

const monoMs = () => Number(process.hrtime.bigint()) / 1e6;

/** The door of every contender; knockd gets no PidFile (the lab gives it one). */
const door = (ports: number[], pidFile?: string, options = '') => `[options]
${pidFile === undefined ? '' : `  PidFile = ${pidFile}\n`}${options}[bench]
  sequence = ${ports.join(',')}
  seq_timeout = 5
  start_command = iptables -I INPUT -s %IP% -p tcp --dport ${PROTECTED} -j ACCEPT
  cmd_timeout = 1
  stop_command = iptables -D INPUT -s %IP% -p tcp --dport ${PROTECTED} -j ACCEPT
`;

/**
 * Lines appended to a file, each with the monotonic ms at which inotify told us (as knocklog's tail-file learns
 * it).
 */
class LineWatch {
  readonly lines: { text: string; at: number }[] = [];
  private readonly fd: number;
  private readonly watcher: FSWatcher;
  private offset = 0;
  private carry = '';
  private readonly buf = Buffer.alloc(64 * 1024);

  constructor(path: string) {
    this.fd = openSync(path, 'r');
    this.drain(); // what is there already has no time of ours
    this.lines.length = 0;
    this.watcher = watch(path, () => this.drain());
  }

  private drain(): void {
    const at = monoMs();
    for (let n; (n = readSync(this.fd, this.buf, 0, this.buf.length, this.offset)) > 0; ) {
      this.offset += n;
      const parts = (this.carry + this.buf.toString('latin1', 0, n)).split('\n');
      this.carry = parts.pop()!;
      for (const text of parts) this.lines.push({ text, at });
    }
  }

  close(): void {
    this.watcher.close();
    closeSync(this.fd);
  }
}

/**
 * CLOCK_MONOTONIC minus the kernel's record clock, from a record we write (the clocks agree within ms; this removes
 * the rest).
 */
async function kernelClockOffset(lab: Lab): Promise<number> {
  const tag = `${lab.prefix} clock ${process.pid}`;
  const log = new KmsgLog((l) => l.includes(tag));
  try {
    const before = monoMs();
    writeFileSync('/dev/kmsg', `<14>${tag}\n`);
    const after = monoMs();
    const rec = log.lines()[0];
    if (rec === undefined) return 0;
    return (before + after) / 2 - kmsgMs(rec);
  } finally {
    log.close();
  }
}

/** The kernel's time (ms) of a /dev/kmsg record `PRI,SEQ,USEC,FLAGS;MSG`. */
const kmsgMs = (rec: string) => Number(rec.split(',')[2]) / 1000;

interface LogRecord {
  time: number;
  msg: string;
}

/** The daemon's complete JSON log lines so far. */
function records(d: Daemon): LogRecord[] {
  return d.output
    .split('\n')
    .slice(0, -1)
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as LogRecord);
}

/** Where the time of one knocklog trial went, from the kernel's record, our tail of the file and the daemon's log. */
function breakdown(
  lab: Lab,
  c: Contender,
  watch: LineWatch | undefined,
  kmsgFrom: number,
  fileFrom: number,
  logFrom: number,
  ms: number,
  offset: number,
): Breakdown | null {
  const last = `DPT=${c.ports.at(-1)} `;
  const src = `SRC=${lab.client.v4} `;
  const kernel = lab.kmsg.lines().slice(kmsgFrom).find((l) => l.includes(last) && l.includes(src));
  const line = watch?.lines.slice(fileFrom).find((l) => l.text.includes(last) && l.text.includes(src));
  const recs = records(c.daemon).slice(logFrom);
  const sesame = recs.find((r) => r.msg === `${lab.client.v4}: bench: OPEN SESAME`);
  const running = recs.find((r) => r.msg.startsWith('bench: running command: iptables -I'));
  if (!kernel || (watch !== undefined && !line) || !sesame || !running) return null;
  const wallToMono = monoMs() - Date.now();
  const tKernel = kmsgMs(kernel) + offset;
  // Without a file, the reader's part starts at the kernel's record: ulogd2 and the socket are in it.
  const seen = line?.at ?? tKernel;
  return {
    delivery: line === undefined ? null : line.at - tKernel,
    reader: sesame.time + wallToMono - seen,
    queue: running.time - sesame.time,
    command: tKernel + ms - (running.time + wallToMono),
  };
}

/**
 * knocklog on `ulogd-socket:`, fed by its own ulogd2 from its own NFLOG group,
 * with the rules and ulogd.conf that `knocklog rules` prints for it.
 */
async function startSocketPath(
  lab: Lab, ports: number[], knocklog: (name: string, source: string, p: number[], options: string) => Daemon,
): Promise<Daemon> {
  const source = `ulogd-socket:${socketDir(lab, 'sock')}/ulogd.sock`;
  const d = knocklog('knocklog-socket', source, ports, `  Sources = ${source}\n`);
  await waitFor('knocklog to listen', () => d.output.includes(': listening (mode'), { describe: () => d.output });
  const conf = lab.path('knocklog-socket.conf');
  const via = ['--via', 'nflog', '--group', String(SOCKET_GROUP)];
  const rules = await runKnocklog(['rules', '-c', conf, '--prefix', lab.prefix, ...via]);
  await lab.serverExec('iptables-restore', ['--noflush'], rules.stdout);
  await startSocketUlogd(lab, 'ulogd-socket', conf, SOCKET_GROUP, (own) =>
    waitFor('ulogd2 to connect', () => d.output.includes('ulogd2 connected'), {
      describe: () => `${d.output}\n${own()}`,
    }));
  return d;
}

export async function latency(): Promise<void> {
  if (!labOrSkip('latency', ['rsyslog', 'ulogd', 'knockd'])) return;
  const lab = await createLab();
  try {
    chmodSync(lab.dir, 0o755); // the reader runs as knocklog
    const ports = {
      knockd: [7000, 8000, 9000], rsyslog: [7001, 8001, 9001], ulogd: [7002, 8002, 9002], socket: [7003, 8003, 9003],
    };
    // The socket's ports are LOGged too: their kernel record times the breakdown.
    await lab.installStandardFirewall({ knock: Object.values(ports).flat(), via: 'both', protectedPort: PROTECTED });
    await lab.listen(PROTECTED);
    const ulogd = await startUlogd(lab);
    const rsyslog = await startRsyslog(lab);
    const knockd = await runKnockd(lab, door(ports.knockd));
    const knocklog = (name: string, source: string, p: number[], options = '') => {
      const conf = lab.writeFile(`${name}.conf`, door(p, lab.path(`${name}.pid`), options));
      return lab.spawn(name, 'server', [
        process.execPath, KNOCKLOG_CLI, 'run', '-c', conf, '-s', source,
        '--prefix', lab.prefix, '--state-dir', lab.path(`${name}-state`),
      ]);
    };
    const socket = await startSocketPath(lab, ports.socket, knocklog);
    const contenders: Contender[] = ([
      { name: 'knockd', ports: ports.knockd, reads: null, daemon: knockd.daemon },
      {
        name: 'knocklog+rsyslog',
        ports: ports.rsyslog,
        reads: { file: rsyslog.kernLog.path },
        daemon: knocklog('knocklog-rsyslog', `file:${rsyslog.kernLog.path}`, ports.rsyslog),
      },
      {
        name: 'knocklog+ulogd2',
        ports: ports.ulogd,
        reads: { file: ulogd.logemu.path },
        daemon: knocklog('knocklog-ulogd', `ulogd:${ulogd.logemu.path}`, ports.ulogd),
      },
      { name: 'knocklog+socket', ports: ports.socket, reads: 'socket', daemon: socket },
    ] as const).map((c) => ({ ...c, ports: [...c.ports], latencies: [], failures: 0, parts: [] }));

    // Warm-up: every contender opens once (knocklog's readers start at the end
    // of their files once running: retry until they do). Not counted.
    for (const c of contenders) {
      for (let i = 0; (await knockAndWait(lab, c.ports, PROTECTED, 5000)) === null; i++) {
        if (i >= 10) throw new Error(`${c.name} never opened the door:\n${c.daemon.output.slice(-2000)}`);
      }
      await waitClosed(lab, PROTECTED);
    }
    const offset = await kernelClockOffset(lab);
    const watches = new Map<Contender, LineWatch>();
    for (const c of contenders) {
      if (c.reads !== null && c.reads !== 'socket') watches.set(c, new LineWatch(c.reads.file));
    }

    console.log(
      'latency: last knock leaves the client -> protected port accepts (probe every 5 ms), ' +
        `${TRIALS} interleaved trials each, cmd_timeout 1 s, waiting for the close between trials`,
    );
    for (let t = 0; t < TRIALS; t++) {
      for (const c of contenders) {
        const watch = watches.get(c);
        const from = [lab.kmsg.lines().length, watch?.lines.length ?? 0, records(c.daemon).length] as const;
        const ms = await knockAndWait(lab, c.ports, PROTECTED, 5000);
        if (ms === null) c.failures++;
        else c.latencies.push(ms);
        await waitClosed(lab, PROTECTED);
        if (ms !== null && c.reads !== null) {
          const b = breakdown(lab, c, watch, ...from, ms, offset);
          if (b !== null) c.parts.push(b);
        }
      }
    }
    for (const w of watches.values()) w.close();

    const base = median(contenders[0]!.latencies);
    for (const c of contenders) {
      const ratio =
        c.name === 'knockd'
          ? ''
          : `; ratio to knockd (median) ${(median(c.latencies) / base).toFixed(2)} (goal <= 1.0)`;
      const failed = c.failures ? `, ${c.failures} did not open` : '';
      console.log(`  ${c.name.padEnd(17)} ${formatMs(summarize(c.latencies))}${failed}${ratio}`);
    }
    for (const c of contenders.filter((x) => x.parts.length > 0)) {
      const m = (k: keyof Breakdown) => median(c.parts.map((p) => p[k] ?? NaN)).toFixed(1);
      const front = c.reads === 'socket'
        ? `ulogd2 + socket + reader (kernel record -> parse + engine + IPC -> OPEN SESAME) ${m('reader')}, `
        : `log delivery (kernel record -> line in the file) ${m('delivery')}, ` +
          `reader (tail + parse + engine + IPC -> OPEN SESAME) ${m('reader')}, `;
      console.log(
        `  ${c.name} breakdown (medians of ${c.parts.length} trials, ms): ${front}` +
          `executor queue (-> running command) ${m('queue')}, ` +
          `command (iptables, until the probe connects) ${m('command')}`,
      );
    }
  } finally {
    await lab.destroy();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await latency();
