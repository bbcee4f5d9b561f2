// Port arguments: numbers, or service names from /etc/services as the knock
// client's getaddrinfo() resolves them (per protocol, aliases included).

import { readFileSync } from 'node:fs';
import type { Proto } from '../types.js';

export const SERVICES_PATH = '/etc/services';

/** `name/proto` -> port. */
export type Services = ReadonlyMap<string, number>;

/** Parses services(5): `name port/proto [alias...] [# comment]`; malformed lines are skipped as libc does. */
export function parseServices(text: string): Services {
  const map = new Map<string, number>();
  for (const raw of text.split('\n')) {
    const [name, portProto, ...aliases] = raw.replace(/#.*/, '').trim().split(/\s+/);
    const m = /^(\d+)\/(\w+)$/.exec(portProto ?? '');
    if (name === undefined || name === '' || m === null) continue;
    const port = Number(m[1]);
    if (port < 1 || port > 65535) continue;
    // The first line naming a service wins, as getservbyname returns it.
    for (const n of [name, ...aliases]) if (!map.has(`${n}/${m[2]}`)) map.set(`${n}/${m[2]}`, port);
  }
  return map;
}

/** Reads the services file; a missing one just means no names resolve. */
export function loadServices(path = SERVICES_PATH): Services {
  try {
    return parseServices(readFileSync(path, 'utf8'));
  } catch {
    return new Map();
  }
}

/**
 * A port number 1-65535 or a service name for `proto`; null when it is neither.
 * `services` is only called for names, so numeric arguments never read the file.
 */
export function resolvePort(spec: string, proto: Proto, services: () => Services): number | null {
  if (/^\d+$/.test(spec)) {
    const n = Number(spec);
    return n >= 1 && n <= 65535 ? n : null;
  }
  return services().get(`${spec}/${proto}`) ?? null;
}
