import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ClosableConnections } from './closable-connections.js';

/** A plain `node:http` server listening. */
export interface HttpListener {
  /**
   * `http://host:port`, without a path, reachable from this machine: a wildcard address is
   * given as its loopback one, an IPv6 address in brackets.
   */
  readonly origin: string;
  /** Stops listening; connections without a request under way are dropped at once. */
  close(): Promise<void>;
}

/** Serves `handler` on `host:port` (`0` picks a free port); resolves once listening. */
export async function listenHttp(
  handler: (request: IncomingMessage, response: ServerResponse) => void,
  host: string,
  port: number,
): Promise<HttpListener> {
  const server = createServer(handler);
  const connections = new ClosableConnections(server);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { address, family, port: listening } = server.address() as AddressInfo;
  const reachable = address === '0.0.0.0' ? '127.0.0.1' : address === '::' ? '::1' : address;
  return {
    origin: `http://${family === 'IPv6' ? `[${reachable}]` : reachable}:${listening}`,
    close: async () => {
      connections.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
