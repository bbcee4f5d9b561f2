// `npm run bench`: every benchmark part in turn. Each part also runs alone:
// `node dist/bench/<part>.js`.
import { parseThroughput } from './parse-throughput.js';

await parseThroughput();
