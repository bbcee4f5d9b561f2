// Time-based knock sequences (knocklog's Sequence_Secret_File doors).

export { decodeBase32, encodeBase32 } from './base32.js';
export { availablePorts, deriveSequence } from './derive.js';
export { counterBytes, hmac, type HmacAlgorithm, hotp, timeStep, truncate } from './hotp.js';
export { STEP_SKEW, stepRefusal } from './steps.js';
