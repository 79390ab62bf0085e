import { once } from 'node:events';
import { createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { ClosableConnections } from '../../src/internal/closable-connections.js';

describe('ClosableConnections', () => {
  it('forgets every connection once closed, including those whose client left mid-request', async () => {
    // The handler never answers: each client gives up while its request is under way.
    const server = createServer(() => undefined);
    const connections = new ClosableConnections(server);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    for (let i = 0; i < 50; i++) {
      const req = request({ port, host: '127.0.0.1', path: '/', agent: false });
      req.on('error', () => undefined);
      req.end();
      await once(server, 'request');
      req.destroy();
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(connections.size).toBe(0);
    server.close();
  });
});
