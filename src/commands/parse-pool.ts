// Worker threads for `knocklog parse` over large inputs. Each worker answers
// its chunks in the order it got them, so a queue of promises per worker is
// all the bookkeeping needed; the caller awaits the promises in input order.

import { Worker } from 'node:worker_threads';
import type { ParseOptions } from '../parse/index.js';
import type { ChunkJob, ChunkResult } from './parse-chunk.js';

/** What a worker is started with (a Date does not survive the copy to another thread). */
export interface WorkerJob {
  opts: Omit<ParseOptions, 'now'>;
  nowMs: number;
  rejects: boolean;
}

export interface WorkerTask {
  chunk: Uint8Array;
  firstLine: number;
}

interface Waiter {
  resolve(r: ChunkResult): void;
  reject(e: Error): void;
}

interface Slot {
  worker: Worker;
  waiting: Waiter[];
}

export class ParsePool {
  private readonly slots: Slot[] = [];
  private next = 0;
  private failure: Error | null = null;

  constructor(size: number, job: ChunkJob) {
    const { now, ...opts } = job.opts;
    const workerData: WorkerJob = { opts, nowMs: now.getTime(), rejects: job.rejects };
    for (let i = 0; i < size; i++) {
      const slot: Slot = { worker: new Worker(new URL('./parse-worker.js', import.meta.url), { workerData }), waiting: [] };
      slot.worker.on('message', (m: { out: Uint8Array; lines: number; knocks: number }) => {
        const out = Buffer.from(m.out.buffer, m.out.byteOffset, m.out.byteLength);
        slot.waiting.shift()!.resolve({ out, lines: m.lines, knocks: m.knocks });
      });
      slot.worker.on('error', (e) => this.fail(e));
      slot.worker.on('exit', (code) => this.fail(new Error(`parse worker exited (code ${code})`)));
      this.slots.push(slot);
    }
  }

  /** Parses a chunk on the next worker in turn. The chunk's memory moves to that worker: do not use it after. */
  run(chunk: Buffer, firstLine: number): Promise<ChunkResult> {
    if (this.failure !== null) return Promise.reject(this.failure);
    const slot = this.slots[this.next]!;
    this.next = (this.next + 1) % this.slots.length;
    return new Promise((resolve, reject) => {
      slot.waiting.push({ resolve, reject });
      const task: WorkerTask = { chunk, firstLine };
      slot.worker.postMessage(task, [chunk.buffer as ArrayBuffer]);
    });
  }

  async close(): Promise<void> {
    this.failure ??= new Error('parse pool closed');
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }

  private fail(e: Error): void {
    this.failure ??= e;
    for (const s of this.slots) for (const w of s.waiting.splice(0)) w.reject(e);
  }
}
