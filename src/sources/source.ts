// What every live log source offers the daemon: lines in order, in batches,
// and problems reported (never thrown) while the source retries by itself.

import type { Readable } from 'node:stream';
import type { RetryDelays } from '../backoff.js';
import type { Log } from '../log.js';


export interface Source {
  /** `file:PATH`, `ulogd:PATH`, `ulogd-socket:PATH`, `journal`, `kmsg` or `stdin`: the provenance of its lines. */
  readonly name: string;
  /**
   * Starts delivering lines (UTF-8, without the newline). `onLines` must be
   * synchronous and cheap: there is no back-pressure. `onEnd` is called when
   * a finite source (stdin) has no more lines; live sources never end by themselves.
   */
  start(onLines: (lines: string[]) => void, onEnd?: () => void): void;
  /** Stops reading and saves the position reached. */
  stop(): Promise<void>;
}


export interface SourceOptions {
  /** Where positions are saved to resume after a restart; null: never saved. */
  stateDir: string | null;
  log: Log;
  /** kmsg: an already open `/dev/kmsg` descriptor (opened O_NONBLOCK by a privileged parent). */
  kmsgFd?: number;
  /** stdin: another stream to read. */
  stdin?: Readable;
  /** journal: the journalctl command. */
  journalctl?: string;
  /** Delays between retries of a failing source (doubling from min to max). */
  retry?: RetryDelays;
}

export const DEFAULT_RETRY: RetryDelays = { minMs: 1000, maxMs: 30_000 };
