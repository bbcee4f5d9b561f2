// The knock client's arguments, checked: what knock would silently send
// somewhere else (a bad port, `8000:UDP` as TCP) is an error or done right here.

import type { Proto, SequenceStep } from '../types.js';
import { resolvePort, SERVICES_PATH, type Services } from './services.js';

/** One knock to send: a step of a sequence. */
export type Hit = SequenceStep;

/** An argument the user must fix; the CLI prints it and exits 1. */
export class KnockUsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KnockUsageError';
  }
}

function port(spec: string, proto: Proto, services: () => Services): number {
  const n = resolvePort(spec, proto, services);
  if (n === null) {
    throw new KnockUsageError(
      `"${spec}" is not a ${proto} port ` +
        `(use a number from 1 to 65535 or a ${proto} service name from ${SERVICES_PATH})`,
    );
  }
  return n;
}

/**
 * `PORT[:PROTO]`: PROTO is tcp (the default) or udp in any case (knock only
 * knows lowercase `udp`); `forceUdp` (-u) makes every hit UDP, as in knock.
 */
export function parseHit(arg: string, forceUdp: boolean, services: () => Services): Hit {
  const parts = arg.split(':');
  if (parts.length > 2) throw new KnockUsageError(`"${arg}" has more than one ":" (write PORT, PORT:tcp or PORT:udp)`);
  const [spec = '', protoText] = parts;
  let proto: Proto = 'tcp';
  if (protoText !== undefined) {
    const p = protoText.toLowerCase();
    if (p !== 'tcp' && p !== 'udp') {
      throw new KnockUsageError(`unknown protocol "${protoText}" in "${arg}" (use tcp or udp)`);
    }
    proto = p;
  }
  if (forceUdp) proto = 'udp';
  return { proto, port: port(spec, proto, services) };
}

/** The TCP port of `--wait`. */
export function parseWaitPort(arg: string, services: () => Services): number {
  return port(arg, 'tcp', services);
}

/** A whole number of milliseconds (`-d`, `--wait-timeout`). */
export function parseMs(text: string, option: string, min: number): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n) || n < min || n > 2 ** 31 - 1) {
    throw new KnockUsageError(
      `${option} "${text}" is not a whole number of milliseconds (use ${min} or more, e.g. ${option} 500)`,
    );
  }
  return n;
}
