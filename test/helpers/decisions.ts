// Reading a field of any Decision in assertions (the union gives each event only its own fields).

import type { Decision } from '../../src/types.js';

export const stageOf = (d: Decision): number | undefined => ('stage' in d ? d.stage : undefined);
export const stepOf = (d: Decision): number | undefined => ('step' in d ? d.step : undefined);
