import { once } from 'node:events';
import { connect } from 'node:net';
import { expect, it } from 'vitest';
import { startPrometheus } from '../../src/telemetry/prometheus.js';

it('stop() ends connections that carry no request: a silent or half-sent scrape', async () => {
  const endpoint = await startPrometheus({ port: 0, host: '127.0.0.1', global: false });
  const { port } = new URL(endpoint.url!);
  const sockets = await Promise.all(
    ['', 'GET /metrics HTTP/1.1\r\nHost: x\r\n'].map(async (head) => {
      const socket = connect(Number(port), '127.0.0.1');
      socket.on('error', () => undefined);
      await once(socket, 'connect');
      socket.write(head);
      return socket;
    }),
  );
  try {
    const stopped = endpoint.stop().then(() => 'stopped');
    const late = new Promise((resolve) => setTimeout(resolve, 2_000, 'still open').unref());
    expect(await Promise.race([stopped, late])).toBe('stopped');
  } finally {
    for (const socket of sockets) socket.destroy();
  }
});
