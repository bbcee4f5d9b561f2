// `npm run bench`: every benchmark part in turn (the lab parts need root and
// print why they skip otherwise). Each part also runs alone: `node dist/bench/<part>.js`.
import { floodBench } from './flood.js';
import { followThroughput } from './follow.js';
import { hostileInput } from './hostile.js';
import { latency } from './latency.js';
import { parseThroughput } from './parse-throughput.js';
import { usersBench } from './users.js';

const t0 = Date.now();
for (const part of [parseThroughput, hostileInput, usersBench, followThroughput, latency, floodBench]) {
  await part();
  console.log();
}
console.log(`all parts: ${((Date.now() - t0) / 1000).toFixed(0)} s`);
