// The reader: sources -> parse -> engine, in a process that holds no
// privilege. It only ever sends decisions to the executor, which checks them.
// Started by the executor with fork(); its IPC channel is its only output.

import { inspectorProblem } from './no-inspector.js';
import { Engine } from '../engine/index.js';
import { LiveTime } from '../clock.js';
import { parseLineFast } from '../parse/fast.js';
import type { Format } from '../parse/index.js';
import { openSource, type Source } from '../sources/index.js';
import type { Config, Decision } from '../types.js';
import { DecisionBatch } from './batch.js';
import { SeenRecords } from './dedupe.js';
import { FirstKnocks } from './first-knocks.js';
import { hostAddresses } from './local.js';
import { HEARTBEAT_MS, type ExecutorMessage, type ReaderMessage, type ReaderSetup } from './protocol.js';

function send(m: ReaderMessage): void {
  process.send?.(m);
}

const log = {
  info: (msg: string) => send({ type: 'log', level: 'info', msg }),
  warn: (msg: string) => send({ type: 'log', level: 'warn', msg }),
  error: (msg: string) => send({ type: 'log', level: 'error', msg }),
};

/** Where a source's lines come from decides which shapes may count (docs/architecture.md, provenance). */
function formatOf(source: string, line: string): Format {
  if (source.startsWith('ulogd-socket:')) return 'ulogd-json';
  if (!source.startsWith('ulogd:')) return 'kernel';
  return line.charCodeAt(0) === 123 ? 'ulogd-json' : 'logemu';
}

const STATS_EVERY_MS = 10_000;

class Reader {
  private readonly verbose: boolean;
  private readonly firstKnocks = new FirstKnocks((msg) => log.info(msg));
  private config: Config;
  private readonly engine: Engine;
  private readonly sources: Source[] = [];
  /** With several sources, one kernel record may come by each: it counts once (dedupe.ts). */
  private readonly copies: SeenRecords | null;
  private timer: NodeJS.Timeout | null = null;
  private timerAt: number | null = null;
  private readonly batch = new DecisionBatch((decisions) => send({ type: 'decisions', decisions }));
  private readonly statsTimer: NodeJS.Timeout;
  /** Nothing is logged until something changes. */
  private lastStats = 'stats: sources 0, attempts 0, open 0, evictions 0, stale 0';
  /** Arrivals, knocks and timers on one clock (CLOCK_MONOTONIC is what the kernel's [uptime] stamps count). */
  private readonly time = new LiveTime();

  constructor(setup: ReaderSetup) {
    this.config = setup.config;
    this.verbose = setup.verbose;
    const o = setup.config.options;
    this.engine = new Engine(setup.config.doors, {
      isLocal: hostAddresses(),
      maxSources: o.maxSources,
      iface: o.interface,
    });
    // The executor restarts a reader it has not heard from (one stopped or stuck).
    setInterval(() => send({ type: 'alive' }), HEARTBEAT_MS).unref();
    for (const d of setup.open) this.engine.restoreOpen(d.door, d.src, d.closeAt);
    for (const u of setup.used) this.engine.restoreUsed(u.door, u.steps, u.user);
    this.copies = setup.sources.length > 1 ? new SeenRecords(() => this.config.doors) : null;
    for (const spec of setup.sources) {
      const source = openSource(spec, {
        stateDir: setup.stateDir,
        log,
        ...(setup.kmsgFd === null ? {} : { kmsgFd: setup.kmsgFd }),
      });
      this.sources.push(source);
      source.start((lines) => this.lines(spec, lines));
    }
    this.schedule();
    this.statsTimer = setInterval(() => this.logStats(), STATS_EVERY_MS).unref();
  }

  /** The first knocks not yet summed up, at stop. */
  sumUp(): void {
    this.firstKnocks.flush();
  }

  /** The engine's counters, when they changed: how a flood is weathered (evictions) shows in the log. */
  logStats(): void {
    const s = this.engine.stats();
    const text =
      `stats: sources ${s.sources}, attempts ${s.attempts}, open ${s.open}, ` +
      `evictions ${s.evictions}, stale ${s.stale}`;
    if (text === this.lastStats) return;
    this.lastStats = text;
    log.info(text);
  }

  /** Everything the reader uses from the config applies at once; sources need a restart (the executor says so). */
  reload(config: Config): void {
    this.config = config;
    this.engine.reconfigure({ iface: config.options.interface, maxSources: config.options.maxSources });
    this.engine.replaceDoors(config.doors);
    this.schedule();
    // From here knocks count against the new doors: an admin (or a test) can tell when a revocation holds.
    const n = config.doors.length;
    log.info(`the log reader uses the new config, with ${n} ${n === 1 ? 'door' : 'doors'}`);
  }

  async stop(): Promise<void> {
    if (this.timer !== null) clearTimeout(this.timer);
    this.batch.flush();
    clearInterval(this.statsTimer);
    await Promise.all(this.sources.map((s) => s.stop()));
    // A source may hand over its last lines while it stops: their decisions go too, before the exit.
    if (this.timer !== null) clearTimeout(this.timer);
    this.batch.flush();
  }

  private lines(source: string, lines: string[]): void {
    const arrived = this.time.arrival();
    const lead = this.time.lead;
    // The parser's now (the year of a syslog stamp, the repeated DST hour) is the wall clock's.
    const opts = { prefix: this.config.options.prefix, format: 'kernel' as Format, now: new Date(arrived - lead) };
    for (const line of lines) {
      opts.format = formatOf(source, line);
      const r = parseLineFast(line, opts);
      if (!r.ok) continue;
      const stamped = this.time.at(r.event);
      if (stamped === null) continue;
      // No knock happened after its line arrived (a line stamped before a step back, then moved by the lead).
      const at = Math.min(stamped, arrived);
      if (this.copies?.copy(r.event, at, arrived) === true) continue;
      this.emit(this.engine.knock(r.event, at, arrived, lead));
    }
    this.schedule();
  }

  private emit(ds: Decision[]): void {
    // Under a spoofed flood nearly every decision is a first knock or its timeout: counted here, not sent
    // (measured at 14,800 spoofed SYN/s: the executor spent 1.5 s of CPU and 110 MB on them), unless -v.
    for (const d of ds) {
      const first = (d.event === 'stage' || d.event === 'timeout') && d.stage === 1;
      if (first && d.event === 'stage') this.firstKnocks.add(d.src);
      if (!first || this.verbose) this.batch.push(d);
    }
    this.batch.settle();
  }

  /** One timer, for the engine's next deadline (timeouts are decided on time, not at the next packet). */
  private schedule(): void {
    const next = this.engine.nextDeadline();
    if (next === this.timerAt) return;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.timerAt = next;
    if (next === null) return;
    this.timer = setTimeout(() => {
      this.timerAt = null;
      this.emit(this.engine.tick(this.time.now()));
      this.schedule();
    }, Math.max(0, Math.min(next - this.time.now() + 1, 2 ** 31 - 1)));
  }
}

let reader: Reader | null = null;
const inspecting = inspectorProblem();
if (inspecting !== null) {
  log.error(`the log reader refuses to run: ${inspecting}`);
  process.exit(1);
}
process.on('message', (m: ExecutorMessage) => {
  if (m.type === 'setup' && reader === null) reader = new Reader(m.setup);
  else if (m.type === 'reload') reader?.reload(m.config);
});
let stopping = false;
function shutdown(): void {
  if (stopping) return;
  stopping = true;
  void (reader?.stop() ?? Promise.resolve()).finally(() => process.exit(0));
}
// The executor is gone: nobody would act on our decisions.
process.on('disconnect', shutdown);
// The executor stops us: the last counters go out while the channel is still open. A service manager
// signals us too: a second SIGTERM must not kill us before the sources have saved their positions.
process.on('SIGTERM', () => {
  if (!stopping) reader?.logStats();
  if (!stopping) reader?.sumUp();
  shutdown();
});
