// The contract's JSON text of an event, built directly: JSON.stringify of the
// whole object costs about a microsecond, as much as parsing the line did.
// Free-text fields still go through JSON.stringify; addresses, times and flag
// words are validated shapes that need no escaping.

import type { KnockEvent } from '../types.js';

/** JSON.stringify of a string, remembering the last one: host, prefix and interface repeat from line to line. */
function quoter(): (s: string) => string {
  let last = '';
  let lastJson = '""';
  return (s) => {
    if (s !== last) {
      last = s;
      lastJson = JSON.stringify(s);
    }
    return lastJson;
  };
}

const hostJson = quoter();
const prefixJson = quoter();
const inJson = quoter();

export function eventJson(e: KnockEvent): string {
  const time = e.time === null ? 'null' : `"${e.time}"`;
  const host = e.host === null ? 'null' : hostJson(e.host);
  const flags = e.flags.length === 0 ? '[]' : `["${e.flags.join('","')}"]`;
  return (
    `{"time":${time},"uptime":${e.uptime},"host":${host},"prefix":${prefixJson(e.prefix)},"in":${inJson(e.in)},` +
    `"src":"${e.src}","dst":"${e.dst}","proto":"${e.proto}","spt":${e.spt},"dpt":${e.dpt},"flags":${flags}}`
  );
}
