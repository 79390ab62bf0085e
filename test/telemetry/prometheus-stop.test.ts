import { once } from 'node:events';
import { connect } from 'node:net';
import { metrics } from '@opentelemetry/api';
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

it('gives a url that reaches it on an IPv6 or wildcard address', async () => {
  for (const host of ['::1', '::', '0.0.0.0']) {
    const endpoint = await startPrometheus({ port: 0, host, global: false });
    try {
      const response = await fetch(endpoint.url!);
      expect(response.status, `${host}: ${endpoint.url}`).toBe(200);
      await response.text();
    } finally {
      await endpoint.stop();
    }
  }
});

it('leaves no global meter provider behind when its port is taken', async () => {
  const taken = await startPrometheus({ port: 0, host: '127.0.0.1', global: false });
  try {
    const { port } = new URL(taken.url!);
    await expect(
      startPrometheus({ port: Number(port), host: '127.0.0.1', global: true }),
    ).rejects.toMatchObject({ code: 'EADDRINUSE' });
    // The no-op provider again: a meter from it records nothing.
    expect(metrics.getMeterProvider().constructor.name).not.toBe('MeterProvider');
  } finally {
    await taken.stop();
  }
});

it('neither replaces a meter provider registered globally before it nor unregisters it', async () => {
  const first = await startPrometheus({ port: 0, host: '127.0.0.1' });
  try {
    await expect(startPrometheus({ port: 0, host: '127.0.0.1' })).rejects.toMatchObject({
      code: 'invalid_config',
      field: 'options.global',
    });
    expect(metrics.getMeterProvider()).toBe(first.meterProvider);
    const second = await startPrometheus({ port: 0, host: '127.0.0.1', global: false });
    await second.stop();
    expect(metrics.getMeterProvider()).toBe(first.meterProvider);
  } finally {
    await first.stop();
  }
  expect(metrics.getMeterProvider()).not.toBe(first.meterProvider);
});
