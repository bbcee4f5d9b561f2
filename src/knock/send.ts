// One knock packet: a TCP SYN or a 1-byte UDP datagram, as the knock client sends them.

import dgram from 'node:dgram';
import net from 'node:net';
import { isIPv6 } from '../net.js';
import type { Hit } from './args.js';

/**
 * Sends one SYN to `address` (a canonical literal) and closes without waiting
 * for the handshake. net.connect() to an address literal calls connect(2) from
 * process.nextTick; a non-blocking connect(2) has handed the SYN to the device
 * before it returns EINPROGRESS. setImmediate runs after the nextTick queue, so
 * the destroy (close(2), as knock does) comes after the SYN has left. Resolves
 * to the error connect(2) reported (e.g. no route), else null. A reset (the
 * usual answer of a closed port that is not dropped) means the SYN arrived.
 */
function hitTcp(address: string, port: number): Promise<Error | null> {
  return new Promise((resolve) => {
    let error: Error | null = null;
    const s = net.connect({ host: address, port });
    s.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code !== 'ECONNREFUSED') error = e;
    });
    setImmediate(() => {
      s.destroy();
      resolve(error);
    });
  });
}

/** Sends one datagram of one zero byte, as knock does. */
function hitUdp(address: string, port: number): Promise<Error | null> {
  return new Promise((resolve) => {
    const s = dgram.createSocket(isIPv6(address) ? 'udp6' : 'udp4');
    let error: Error | null = null;
    s.on('error', (e) => { error = e; });
    s.send(Buffer.alloc(1), port, address, (e) => {
      s.close();
      resolve(e ?? error);
    });
  });
}

export function sendHit(address: string, hit: Hit): Promise<Error | null> {
  return hit.proto === 'tcp' ? hitTcp(address, hit.port) : hitUdp(address, hit.port);
}
