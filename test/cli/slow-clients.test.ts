import { describe, expect, it } from 'vitest';
import { ACME_TOKEN, startGateway, TOKENS } from './gateway-harness.js';
import { rawClient } from './support/raw-client.js';

/** Resolves with what the server wrote before closing, or 'still open' after `ms`. */
function closedWithin(client: { closed: Promise<string> }, ms: number): Promise<string> {
  return Promise.race([
    client.closed,
    new Promise<string>((resolve) => setTimeout(() => resolve('still open'), ms).unref()),
  ]);
}

describe('slow and broken clients', () => {
  it('answers a request whose body never arrives in full with 408 and closes it', async () => {
    const gateway = await startGateway({ tokens: TOKENS, requestTimeoutMs: 300 });
    const client = await rawClient(
      gateway.url,
      'POST /v1/slots HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n' +
        `Authorization: Bearer ${ACME_TOKEN}\r\nContent-Length: 100\r\n\r\n{"ke`,
    );
    const answer = await closedWithin(client, 3_000);
    client.socket.destroy();
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
    expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4))).toEqual({
      error: { code: 'request_timeout', message: expect.any(String) },
    });
    expect(gateway.admission.stats().active).toBe(0);
  });

  it('lets a request received in time wait in the queue for longer than the timeout', async () => {
    const gateway = await startGateway({
      tokens: TOKENS,
      requestTimeoutMs: 200,
      admission: { maxConcurrentSessions: 1, queue: { maxSize: 1, timeoutMs: 5_000 } },
    });
    const first = await gateway.call('POST', '/v1/slots', { body: {}, token: ACME_TOKEN });
    const { id } = (await first.json()) as { id: string };
    const queued = gateway.call('POST', '/v1/slots', { body: {}, token: ACME_TOKEN });
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    await gateway.call('DELETE', `/v1/slots/${id}`, { token: ACME_TOKEN });
    expect((await queued).status).toBe(201);
  });

  it('leaves an idle keep-alive connection open past the timeout for its next request', async () => {
    const gateway = await startGateway({ tokens: TOKENS, requestTimeoutMs: 200 });
    const probe = 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n';
    const client = await rawClient(gateway.url, probe);
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    client.socket.end(probe.replace('Host: x', 'Host: x\r\nConnection: close'));
    const answers = await closedWithin(client, 3_000);
    expect(answers.match(/HTTP\/1\.1 200 /g)).toHaveLength(2);
  });

  it('closes an idle keep-alive connection once its keep-alive timeout has passed, not before', async () => {
    const gateway = await startGateway({ tokens: TOKENS, keepAliveTimeoutMs: 1_500 });
    const sentAt = performance.now();
    const client = await rawClient(gateway.url, 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    const answers = await closedWithin(client, 5_000);
    // Answered after it was sent, so closed at least the timeout after that (less a timer's ms).
    expect(performance.now() - sentAt).toBeGreaterThanOrEqual(1_490);
    expect(answers).toMatch(/\r\nKeep-Alive: timeout=1\r\n/i);
    expect(answers.match(/HTTP\/1\.1 200 /g)).toHaveLength(1);
  });

  it('answers a request whose headers never end with 408 and closes it', async () => {
    const gateway = await startGateway({ tokens: TOKENS, requestTimeoutMs: 300 });
    const client = await rawClient(gateway.url, 'GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ');
    const answer = await closedWithin(client, 3_000);
    client.socket.destroy();
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
  });

  it('answers malformed HTTP with the documented error shape', async () => {
    const gateway = await startGateway({ tokens: TOKENS });
    const client = await rawClient(gateway.url, 'GARBAGE\r\n\r\n');
    const answer = await closedWithin(client, 3_000);
    expect(answer).toMatch(/^HTTP\/1\.1 400 /);
    expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4))).toEqual({
      error: { code: 'bad_request', message: expect.any(String) },
    });
  });

  it('answers an HTTP/1.1 request without Host with 400 and the documented error shape', async () => {
    const gateway = await startGateway({ tokens: TOKENS });
    const client = await rawClient(gateway.url, 'GET /healthz HTTP/1.1\r\n\r\n');
    const answer = await closedWithin(client, 3_000);
    expect(answer).toMatch(/^HTTP\/1\.1 400 /);
    expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4))).toEqual({
      error: { code: 'bad_request', message: 'an HTTP/1.1 request needs a Host header' },
    });
  });

  it('answers headers over the size limit with 431 and the documented error shape', async () => {
    const gateway = await startGateway({ tokens: TOKENS });
    const client = await rawClient(
      gateway.url,
      `GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`,
    );
    const answer = await closedWithin(client, 3_000);
    expect(answer).toMatch(/^HTTP\/1\.1 431 /);
    expect(JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4))).toEqual({
      error: { code: 'headers_too_large', message: expect.any(String) },
    });
  });
});

describe('closing with clients connected', () => {
  it('closes connections that carry no request, and lets the requests under way finish', async () => {
    const gateway = await startGateway({
      tokens: TOKENS,
      admission: { maxConcurrentSessions: 1, queue: { maxSize: 1, timeoutMs: 5_000 } },
    });
    await gateway.call('POST', '/v1/slots', { body: {}, token: ACME_TOKEN });
    // Queued behind the held slot: still waiting when the close starts, answered after it.
    const underWay = gateway.call('POST', '/v1/slots', {
      body: { timeoutMs: 800 },
      token: ACME_TOKEN,
    });
    const silent = await rawClient(gateway.url, '');
    const half = await rawClient(gateway.url, 'GET /healthz HTTP/1.1\r\nHost: x\r\n');
    await new Promise((resolve) => setTimeout(resolve, 100));

    try {
      const closing = gateway.app.close();
      expect(await closedWithin(silent, 2_000)).toBe('');
      expect(await closedWithin(half, 2_000)).toBe('');
      const answer = await underWay;
      expect(answer.status).toBe(429);
      expect(await answer.json()).toMatchObject({ error: { code: 'queue_timeout' } });
      const stopped = new Promise((resolve) => setTimeout(resolve, 2_000, 'still open'));
      expect(await Promise.race([closing.then(() => 'closed'), stopped])).toBe('closed');
    } finally {
      silent.socket.destroy();
      half.socket.destroy();
    }
  });
});
