// `-s SOURCE` specs -> live sources.

import { resolve } from 'node:path';
import { FileSource } from './file.js';
import { JournalSource } from './journal.js';
import { KmsgSource } from './kmsg.js';
import type { Source, SourceOptions } from './source.js';
import { StdinSource } from './stdin.js';
import { UlogdSocketSource } from './ulogd-socket.js';

export type { Source, SourceOptions } from './source.js';

const EXAMPLE = {
  file: '/var/log/kern.log', ulogd: '/var/log/ulog/knocks.json', 'ulogd-socket': '/run/knocklog-ulogd/ulogd.sock',
};

/**
 * A source for `file:PATH`, `ulogd:PATH` or `ulogd-socket:PATH` (relative to
 * the working directory), `journal`, `kmsg` or `stdin`; throws an Error that says what is accepted.
 */
export function openSource(spec: string, opts: SourceOptions): Source {
  for (const kind of ['file', 'ulogd', 'ulogd-socket'] as const) {
    if (!spec.startsWith(`${kind}:`)) continue;
    const path = spec.slice(kind.length + 1);
    if (path === '') throw new Error(`source "${spec}" names no file: use ${kind}:PATH, e.g. ${kind}:${EXAMPLE[kind]}`);
    if (kind === 'ulogd-socket') return new UlogdSocketSource(resolve(path), opts);
    return new FileSource(resolve(path), opts, kind);
  }
  switch (spec) {
    case 'journal':
      return new JournalSource(opts);
    case 'kmsg':
      return new KmsgSource(opts);
    case 'stdin':
      return new StdinSource(opts.stdin ?? process.stdin, opts.log);
  }
  throw new Error(`unknown source "${spec}": use file:PATH (e.g. file:/var/log/kern.log), ulogd:PATH, `
    + 'ulogd-socket:PATH, journal, kmsg or stdin');
}
