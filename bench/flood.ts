// A spoofed SYN flood at the first knock port while a legitimate client
// knocks the whole sequence, in the netns lab only (hping3 runs in the client
// namespace, aimed at the server's address, bounded by a count and a timeout).
// knockd (pcap: sees every packet) and knocklog reading rsyslog's kern.log,
// behind the rules `knocklog rules` writes (rate-limited per source and in
// total), one at a time: does the door open, how late against no flood, peak
// memory, and how much of the flood reached the log.

import { chmodSync, existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createLab, KNOCKLOG_CLI, runKnocklog, startRsyslog, waitFor, type Daemon, type Lab, type LabLog } from '../test/e2e/lab.js';
import { knockAndWait, waitClosed } from './door.js';
import { childWith, formatMemory, memory, type Memory } from './proc.js';
import { labOrSkip } from './stats.js';

const PROTECTED = 2222;
const SEQUENCE = [7000, 8000, 9000];
/** hping3's packet count and gap (µs): at most 10,000 packets a second (measured here: ~3,800/s, so ~10 s). */
const FLOOD = { count: 40_000, gapUs: 100, timeoutS: 30 };
/** The legitimate client knocks this long after the flood started. */
const KNOCK_AFTER_MS = 2000;
/** The reader logs its engine counters this often when they changed (src/daemon/reader.ts). */
const STATS_EVERY_MS = 10_000;

const CONF = (extra: string) => `[options]
${extra}[bench]
  sequence = ${SEQUENCE.join(',')}
  seq_timeout = 5
  start_command = iptables -I INPUT -s %IP% -p tcp --dport ${PROTECTED} -j ACCEPT
  cmd_timeout = 1
  stop_command = iptables -D INPUT -s %IP% -p tcp --dport ${PROTECTED} -j ACCEPT
`;

/** The flood: hping3 with random spoofed sources; returns how many packets it sent. */
async function flood(lab: Lab): Promise<number> {
  const cmd = `timeout ${FLOOD.timeoutS} hping3 --rand-source -S -p ${SEQUENCE[0]} -i u${FLOOD.gapUs} -c ${FLOOD.count} ${lab.server.v4} 2>&1; true`;
  const { stdout } = await lab.clientExec('sh', ['-c', cmd]);
  const sent = /(\d+) packets transmitted/.exec(stdout);
  if (!sent) throw new Error(`hping3 printed no statistics:\n${stdout.slice(-1000)}`);
  return Number(sent[1]);
}

/** Packets counted by a chain's rules: [picked by KNOCKLOG, logged by KNOCKLOG-LOG]. */
async function ruleCounters(lab: Lab): Promise<[number, number]> {
  const count = async (chain: string) => {
    const { stdout } = await lab.serverExec('iptables', ['-nvxL', chain]);
    return stdout.split('\n').slice(2).reduce((n, l) => n + (Number(l.trim().split(/\s+/)[0]) || 0), 0);
  };
  return [await count('KNOCKLOG'), await count('KNOCKLOG-LOG')];
}

interface Outcome {
  baselineMs: number | null;
  floodMs: number | null;
  sent: number;
  floodSeconds: number;
  memory: [string, Memory | null][];
  notes: string[];
}

/** Baseline knock, then the flood with a knock inside it; `probe` reads memory and notes while the daemon still runs. */
async function scenario(lab: Lab, probe: () => Promise<Pick<Outcome, 'memory' | 'notes'>>): Promise<Outcome> {
  const baselineMs = await knockAndWait(lab, SEQUENCE, PROTECTED, 5000);
  await waitClosed(lab, PROTECTED);
  const t0 = Date.now();
  const sending = flood(lab);
  await new Promise((r) => setTimeout(r, KNOCK_AFTER_MS));
  const floodMs = await knockAndWait(lab, SEQUENCE, PROTECTED, 8000);
  const sent = await sending;
  const floodSeconds = (Date.now() - t0) / 1000;
  if (floodMs !== null) await waitClosed(lab, PROTECTED);
  return { baselineMs, floodMs, sent, floodSeconds, ...(await probe()) };
}

function report(name: string, o: Outcome): void {
  const ms = (v: number | null) => (v === null ? 'did NOT open' : `opened after ${v} ms`);
  console.log(`  ${name}: no flood: ${ms(o.baselineMs)}; during the flood: ${ms(o.floodMs)}`);
  console.log(`    flood: ${o.sent} packets in ${o.floodSeconds.toFixed(1)} s (${Math.round(o.sent / o.floodSeconds)}/s)`);
  for (const [who, m] of o.memory) console.log(`    ${who}: ${formatMemory(m)}`);
  for (const n of o.notes) console.log(`    ${n}`);
}

async function warmUp(lab: Lab, name: string, d: Daemon): Promise<void> {
  for (let i = 0; (await knockAndWait(lab, SEQUENCE, PROTECTED, 3000)) === null; i++) {
    if (i >= 10) throw new Error(`${name} never opened the door:\n${d.output.slice(-2000)}`);
  }
  await waitClosed(lab, PROTECTED);
}

async function knockdRun(lab: Lab): Promise<Outcome> {
  const conf = lab.writeFile('knockd.conf', CONF(''));
  const logFile = lab.path('knockd.log');
  // No -D/-v: knockd would print a line per packet, which a real setup does not do.
  const d = lab.spawn('knockd', 'server', ['knockd', '-i', lab.serverIf, '-c', conf, '-g', logFile, '-p', lab.path('knockd.pid')]);
  try {
    await warmUp(lab, 'knockd', d);
    return await scenario(lab, async () => {
      const log = existsSync(logFile) ? readFileSync(logFile, 'utf8') : '';
      return {
        memory: [['knockd', memory(d.child.pid!)]],
        notes: [`knockd logged ${log.match(/: Stage 1$/gm)?.length ?? 0} "Stage 1" lines (one per flood packet it saw)`],
      };
    });
  } finally {
    await d.stop();
  }
}

/** The stats line with the most attempts in progress. */
function busiest(lines: string[]): string | undefined {
  const attempts = (l: string) => Number(/attempts (\d+)/.exec(l)?.[1] ?? 0);
  return lines.reduce<string | undefined>((a, l) => (a === undefined || attempts(l) > attempts(a) ? l : a), undefined);
}

async function knocklogRun(lab: Lab, kernLog: LabLog & { path: string }): Promise<Outcome> {
  const logFile = lab.path('knocklog.log');
  const conf = lab.writeFile('knocklog.conf', CONF(`  PidFile = ${lab.path('knocklog.pid')}\n  LogFile = ${logFile}\n`));
  const d = lab.spawn('knocklog', 'server', [
    process.execPath, KNOCKLOG_CLI, 'run', '-c', conf, '-s', `file:${kernLog.path}`, '--prefix', lab.prefix, '--state-dir', lab.path('knocklog-state'),
  ]);
  const statsLines = () => (existsSync(logFile) ? readFileSync(logFile, 'utf8').match(/stats: .*/g) ?? [] : []);
  try {
    await warmUp(lab, 'knocklog', d);
    const [picked0, logged0] = await ruleCounters(lab);
    const client = `SRC=${lab.client.v4} `;
    const lines0 = kernLog.lines().filter((l) => l.includes(client)).length;
    // Each knock of the baseline trial is one line; what comes after is the knock inside the flood.
    const legit = () => kernLog.lines().filter((l) => l.includes(client)).length - lines0 - SEQUENCE.length;
    return await scenario(lab, async () => {
      const executor = d.child.pid!;
      const reader = childWith(executor, 'reader.js');
      const mem: [string, Memory | null][] = [['knocklog executor', memory(executor)], ['knocklog reader', reader === null ? null : memory(reader)]];
      const [picked, logged] = await ruleCounters(lab);
      // The reader's counters come every STATS_EVERY_MS when they changed: wait for one from after the flood.
      const before = statsLines().length;
      await waitFor('the reader to log its counters', () => statsLines().length > before, { timeoutMs: STATS_EVERY_MS + 5000 }).catch(() => undefined);
      return {
        memory: mem,
        notes: [
          `knock packets seen by the firewall: ${picked - picked0}; logged (under the per-source and total limits): ${logged - logged0}`,
          `knocklog logged ${readFileSync(logFile, 'utf8').match(/: Stage 1$/gm)?.length ?? 0} "Stage 1" lines and ` +
            `${readFileSync(logFile, 'utf8').match(/ first knocks? from /g)?.length ?? 0} first-knock summaries`,
          `legitimate knocks that reached kern.log during the flood: ${legit()} of ${SEQUENCE.length}`,
          `reader, busiest stats line: ${busiest(statsLines()) ?? 'none'}; last: ${statsLines().at(-1) ?? 'none'}`,
        ],
      };
    });
  } finally {
    await d.stop();
  }
}

export async function floodBench(): Promise<void> {
  if (!labOrSkip('flood', ['rsyslog'])) return;
  if (!existsSync('/usr/sbin/hping3')) {
    console.log('flood: skipped: hping3 is not installed (apt-get install hping3)');
    return;
  }
  const lab = await createLab();
  try {
    chmodSync(lab.dir, 0o755); // the reader runs as nobody
    await lab.installStandardFirewall({ protectedPort: PROTECTED });
    const rules = await runKnocklog(['rules', '-c', lab.writeFile('rules.conf', CONF('')), '--prefix', lab.prefix]);
    await lab.serverExec('iptables-restore', ['--noflush'], rules.stdout);
    await lab.listen(PROTECTED);
    const rsyslog = await startRsyslog(lab);
    console.log(
      `flood: hping3 --rand-source -S -p ${SEQUENCE[0]} -i u${FLOOD.gapUs} -c ${FLOOD.count} (client ns -> server), a legitimate knock ${KNOCK_AFTER_MS / 1000} s into it; ` +
        'firewall from `knocklog rules`; one daemon at a time',
    );
    report('knockd 0.8', await knockdRun(lab));
    report('knocklog (rsyslog kern.log)', await knocklogRun(lab, rsyslog.kernLog));
  } finally {
    await lab.destroy();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await floodBench();
