// Time-based knock sequences (knocklog's Sequence_Secret_File doors).

export { decodeBase32, encodeBase32 } from './base32.js';
export { addressBytes, availablePorts, deriveBoundSequence, deriveSequence, firstPort } from './derive.js';
export { counterBytes, hmac, type HmacAlgorithm, hotp, timeStep, truncate } from './hotp.js';
export { splitUsedKey, STEP_SKEW, stepRefusal, usedKey, type UsedSteps, userRefusal } from './steps.js';
