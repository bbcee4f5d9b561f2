// The baseline: a plain Node readline loop over a file, counting lines.
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';

let n = 0;
const rl = createInterface({ input: createReadStream(process.argv[2]!), crlfDelay: Infinity });
for await (const _ of rl) n++;
process.stderr.write(`${n} lines\n`);
