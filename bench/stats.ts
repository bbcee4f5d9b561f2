// Order statistics and the small helpers the benchmark parts share.

import { e2eAvailable, type Need } from '../lab/lab.js';

/** The `p` quantile (0..1) of `xs`, nearest rank; NaN for none. */
export function quantile(xs: readonly number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))]!;
}

export const median = (xs: readonly number[]) => quantile(xs, 0.5);

export interface Summary {
  n: number;
  median: number;
  p95: number;
  max: number;
}

export function summarize(xs: readonly number[]): Summary {
  return { n: xs.length, median: median(xs), p95: quantile(xs, 0.95), max: xs.length ? Math.max(...xs) : NaN };
}

/** `median 12.0 ms, p95 15.0 ms, max 20.0 ms (n 30)` */
export function formatMs(s: Summary): string {
  const f = (v: number) => `${v.toFixed(1)} ms`;
  return `median ${f(s.median)}, p95 ${f(s.p95)}, max ${f(s.max)} (n ${s.n})`;
}

/** Whether the netns lab can run here; if not, a part that needs it prints why and returns. */
export function labOrSkip(part: string, needs: readonly Need[]): boolean {
  const a = e2eAvailable(needs);
  if (a.ok) return true;
  console.log(`${part}: skipped: ${a.reason} (run as root: \`sudo npm run bench\`)`);
  return false;
}
