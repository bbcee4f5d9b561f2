// A worker thread of `knocklog parse`: chunks of whole lines in, the bytes to
// print out, both transferred rather than copied.

import { parentPort, workerData } from 'node:worker_threads';
import { parseChunk, type ChunkJob } from './parse-chunk.js';
import type { WorkerJob, WorkerTask } from './parse-pool.js';

const { opts, nowMs, rejects } = workerData as WorkerJob;
const job: ChunkJob = { opts: { ...opts, now: new Date(nowMs) }, rejects };
const port = parentPort!;

port.on('message', (t: WorkerTask) => {
  const r = parseChunk(Buffer.from(t.chunk.buffer, t.chunk.byteOffset, t.chunk.byteLength), t.firstLine, job);
  port.postMessage(r, [r.out.buffer as ArrayBuffer]);
});
