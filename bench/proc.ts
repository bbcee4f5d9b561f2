// What /proc tells about the daemons under test: their children, CPU time and memory.

import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';

const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

function read(path: string): string | null {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return null; // the process is gone
  }
}

/** The child of `pid` whose command line contains `part` (the reader: `reader.js`), else null. */
export function childWith(pid: number, part: string): number | null {
  const kids = read(`/proc/${pid}/task/${pid}/children`)?.trim().split(/\s+/).filter(Boolean) ?? [];
  return Number(kids.find((k) => read(`/proc/${k}/cmdline`)?.includes(part))) || null;
}

/** User plus system CPU seconds the process has used so far; NaN when it is gone. */
export function cpuSeconds(pid: number): number {
  const stat = read(`/proc/${pid}/stat`);
  if (stat === null) return NaN;
  // Fields after the parenthesised command name: utime and stime are the 12th and 13th.
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / CLK_TCK;
}

export interface Memory {
  /** Peak resident set size (VmHWM), MB. */
  peakMb: number;
  /** Resident set size now (VmRSS), MB. */
  rssMb: number;
}

export function memory(pid: number): Memory | null {
  const status = read(`/proc/${pid}/status`);
  if (status === null) return null;
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { peakMb: kb('VmHWM') / 1024, rssMb: kb('VmRSS') / 1024 };
}

export const formatMemory = (m: Memory | null) =>
  m === null ? 'gone' : `peak RSS ${m.peakMb.toFixed(1)} MB (now ${m.rssMb.toFixed(1)} MB)`;
