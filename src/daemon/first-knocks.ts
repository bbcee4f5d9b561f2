// knockd logs `Stage 1` for every first knock: under a spoofed flood at a
// first port that is a log line per packet. First knocks are counted
// instead and summed up once per period; each still shows at debug level (-v).

/** Distinct sources counted per period at most: a flood must not grow the set without bound. */
const MAX_DISTINCT = 10_000;

export class FirstKnocks {
  private knocks = 0;
  private readonly sources = new Set<string>();
  private timer: NodeJS.Timeout | null = null;

  /** `log`: where the summary goes; a period starts at its first knock and lasts `periodMs`. */
  constructor(
    private readonly log: (msg: string) => void,
    private readonly periodMs = 10_000,
  ) {}

  add(src: string): void {
    this.knocks++;
    if (this.sources.size < MAX_DISTINCT) this.sources.add(src);
    // Unref'd: a summary must not hold up the daemon's exit.
    this.timer ??= setTimeout(() => this.flush(), this.periodMs).unref();
  }

  /** Logs the period's summary, if any, and starts a new period. */
  flush(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    if (this.knocks === 0) return;
    const n = this.knocks;
    const m = this.sources.size;
    const from = m < MAX_DISTINCT ? `${m} source${m === 1 ? '' : 's'}` : `${MAX_DISTINCT} sources or more`;
    this.log(`${n} first knock${n === 1 ? '' : 's'} from ${from} in the last ${this.periodMs / 1000} s`);
    this.knocks = 0;
    this.sources.clear();
  }
}
