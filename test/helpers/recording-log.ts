// A Log that keeps its messages, and a wait for a condition: for tests of live sources.

import type { Log } from '../../src/log.js';

export class RecordingLog implements Log {
  readonly messages: string[] = [];
  info(msg: string): void {
    this.messages.push(`info: ${msg}`);
  }
  warn(msg: string): void {
    this.messages.push(`warn: ${msg}`);
  }
  error(msg: string): void {
    this.messages.push(`error: ${msg}`);
  }
  has(re: RegExp): boolean {
    return this.messages.some((m) => re.test(m));
  }
  count(re: RegExp): number {
    return this.messages.filter((m) => re.test(m)).length;
  }
}

/** Polls `cond` every 5 ms; throws after `timeoutMs`, naming `what`. */
export async function until(what: string, cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
