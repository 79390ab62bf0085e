import { createSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

/**
 * Free loopback ports for the servers tests start, picked below the kernel's ephemeral range.
 * A port is only checked free, then released for the server to bind: one taken from the
 * ephemeral range (as `listen(0)` gives) is soon handed out again as the local port of some
 * outgoing connection or UDP socket, which the tests open by the hundred (WebRTC, Redis, HTTP),
 * and the server then fails to bind it. Below that range the kernel never hands ports out.
 */

/** Where the kernel's ephemeral ports start (Linux's default when it cannot be read). */
function ephemeralStart(): number {
  try {
    const [start] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8')
      .trim()
      .split(/\s+/);
    return Number(start) || 32_768;
  } catch {
    return 32_768;
  }
}

/** The lowest port picked: above the well-known and most registered services' ports. */
const LOWEST = 10_000;
const HIGHEST = ephemeralStart() - 1;

/** Whether `port` can be bound on loopback now, for `kind`. */
function bindable(kind: 'tcp' | 'udp', port: number): Promise<boolean> {
  return new Promise((resolve) => {
    if (kind === 'udp') {
      const socket = createSocket('udp4');
      socket.once('error', () => resolve(false));
      socket.bind(port, '127.0.0.1', () => socket.close(() => resolve(true)));
      return;
    }
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

async function freeBelowEphemeral(kind: 'tcp' | 'udp'): Promise<number> {
  for (;;) {
    const port = LOWEST + Math.floor(Math.random() * (HIGHEST - LOWEST + 1));
    if (await bindable(kind, port)) return port;
  }
}

/** A free TCP port on loopback, outside the ephemeral range (released again before use). */
export function freePort(): Promise<number> {
  return freeBelowEphemeral('tcp');
}

/** A free UDP port on loopback, outside the ephemeral range (released again before use). */
export function freeUdpPort(): Promise<number> {
  return freeBelowEphemeral('udp');
}

/**
 * Two distinct free TCP ports, for a server that binds both: picked one after the other and
 * released at once, the same port could come up twice.
 */
export async function twoFreePorts(): Promise<[number, number]> {
  const first = await freePort();
  for (;;) {
    const second = await freePort();
    if (second !== first) return [first, second];
  }
}
