// ulogd2 in the server namespace (NFLOG groups belong to a namespace), taking
// the lab's NFLOG group into a LOGEMU text file and a JSON file.

import { readFileSync, writeFileSync } from 'node:fs';
import { ULOGD_PLUGIN_NAMES, ULOGD_PLUGINS } from './available.js';
import type { Lab } from './lab.js';
import { fileLog, jsonMatcher, textMatcher, type LabLog } from './logs.js';
import { waitFor, type Daemon } from './proc.js';

export interface Ulogd {
  daemon: Daemon;
  logemu: LabLog & { path: string };
  json: LabLog & { path: string };
  stop(): Promise<void>;
}

export async function startUlogd(lab: Lab): Promise<Ulogd> {
  const logemu = lab.path('ulogd-logemu.log');
  const json = lab.path('ulogd.json');
  // Created readable before ulogd starts (it appends): knocklog's reader runs as knocklog.
  for (const f of [logemu, json]) writeFileSync(f, '', { mode: 0o644 });
  // Both stacks name the same input instance, log1: a second NFLOG instance
  // could not bind the group ("unable to bind to log group"), and ulogd would
  // drop that stack and run on without it.
  const conf = lab.writeFile(
    'ulogd.conf',
    `[global]
logfile="${lab.path('ulogd.log')}"
loglevel=3
${ULOGD_PLUGIN_NAMES.map((p) => `plugin="${ULOGD_PLUGINS}/ulogd_${p}.so"`).join('\n')}
stack=log1:NFLOG,base1:BASE,ifi1:IFINDEX,ip2str1:IP2STR,print1:PRINTPKT,emu1:LOGEMU
stack=log1:NFLOG,base1:BASE,ifi1:IFINDEX,ip2str1:IP2STR,mac2str1:HWHDR,json1:JSON

[log1]
group=${lab.nflogGroup}

[emu1]
file="${logemu}"
sync=1

[json1]
file="${json}"
sync=1
`,
  );
  const { daemon, own } = spawnUlogd(lab, 'ulogd', conf);
  await waitFor(
    'ulogd to start',
    () => {
      const text = own();
      if (/error|unable/i.test(text)) throw new Error(`ulogd failed to start a stack:\n${text}`);
      if (text.includes('entering main loop')) return true;
      if (!daemon.running) throw new Error(`ulogd exited:\n${daemon.output}\n${text}`);
      return undefined;
    },
    { describe: own },
  );
  return {
    daemon,
    logemu: fileLog('ulogd2 LOGEMU', logemu, 'logemu', textMatcher(lab.prefix)),
    json: fileLog('ulogd2 JSON', json, 'ulogd-json', jsonMatcher(lab.prefix)),
    stop: () => daemon.stop(),
  };
}

/** ulogd2 `-c conf` in the server namespace; `own()` reads its own log (the conf's `logfile`), '' before it exists. */
export function spawnUlogd(lab: Lab, name: string, conf: string): { daemon: Daemon; own: () => string } {
  const ownLog = /^logfile="(.*)"$/m.exec(readFileSync(conf, 'utf8'))?.[1];
  const daemon = lab.spawn(name, 'server', ['ulogd', '-c', conf, '-p', lab.path(`${name}.pid`)]);
  const own = () => {
    try {
      return ownLog === undefined ? '' : readFileSync(ownLog, 'utf8');
    } catch {
      return '';
    }
  };
  return { daemon, own };
}
