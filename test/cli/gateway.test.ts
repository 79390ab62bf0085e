import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createGateway } from '../../src/cli/gateway/gateway.js';
import { Admission } from '../../src/index.js';
import { SimulatedBackend } from '../../src/providers/simulated/simulated-backend.js';
import { startPrometheus } from '../../src/telemetry/prometheus.js';

const servers: Server[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => new Promise((resolve) => s.close(resolve))));
});

async function gateway(options: { cap?: number; metrics?: boolean } = {}) {
  const backend = new SimulatedBackend({ providerConfig: { setupLatencyMs: 1 } });
  await backend.start();
  const prometheus = options.metrics
    ? await startPrometheus({ serve: false, global: false })
    : undefined;
  const admission = new Admission(backend, {
    maxConcurrentSessions: options.cap ?? 2,
    health: false,
    ...(prometheus === undefined
      ? { telemetry: false as const }
      : { telemetry: { meterProvider: prometheus.meterProvider } }),
  });
  const server = createGateway({
    admission,
    backend,
    ...(prometheus === undefined ? {} : { metrics: prometheus.handler }),
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const post = (
    body: unknown,
    headers: Record<string, string> = { 'content-type': 'application/json' },
  ) =>
    fetch(`${url}/v1/sessions`, {
      method: 'POST',
      headers,
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
  return { url, backend, admission, post };
}

describe('the gateway over HTTP', () => {
  it('creates sessions (201 with connection info), refuses over the cap (429, Retry-After, JSON code), closes them', async () => {
    const { url, post, backend } = await gateway();
    const first = await post({ userId: 'caller-1', tenantId: 'acme' });
    expect(first.status).toBe(201);
    const session = (await first.json()) as {
      id: string;
      tenantId: string;
      connection: { roomName: string; token: string };
    };
    expect(session).toMatchObject({
      tenantId: 'acme',
      connection: { roomName: `sim-${session.id}` },
    });
    expect(first.headers.get('location')).toBe(`/v1/sessions/${session.id}`);
    expect((await post({ userId: 'caller-2' })).status).toBe(201);

    const refused = await post({ userId: 'caller-3' });
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(await refused.json()).toMatchObject({
      error: { code: 'capacity', tenantId: 'default' },
    });

    const closed = await fetch(`${url}/v1/sessions/${session.id}`, { method: 'DELETE' });
    expect(closed.status).toBe(200);
    expect(await closed.json()).toMatchObject({ id: session.id, reason: 'closed' });
    expect(backend.getActiveSessionCount()).toBe(1);
    expect((await post({ userId: 'caller-3' })).status).toBe(201);
    expect((await fetch(`${url}/v1/sessions/${session.id}`, { method: 'DELETE' })).status).toBe(
      404,
    );
  });

  it.each([
    ['bad JSON', '{"userId": ', /body is not valid JSON/],
    ['an array', '[1]', /body must be a JSON object/],
    ['an unknown field', { userId: 'u', color: 'red' }, /body.color: unknown option/],
    ['no userId', { tenantId: 't' }, /body.userId: must be a non-empty string/],
    ['a bad priority', { userId: 'u', priority: 1.5 }, /body.priority: must be an integer/],
    [
      'an oversized body',
      { userId: 'u', metadata: { blob: 'x'.repeat(20_000) } },
      /body too large/,
    ],
  ])('answers 400 with a clear message to %s', async (_what, body, message) => {
    const { post } = await gateway();
    const response = await post(body);
    expect(response.status).toBe(400);
    const { error } = (await response.json()) as { error: { code: string; message: string } };
    expect(error.code).toBe('bad_request');
    expect(error.message).toMatch(message);
  });

  it('answers 400 to a body that is not JSON, and 404 to unknown routes', async () => {
    const { url, post } = await gateway();
    expect((await post({ userId: 'u' }, { 'content-type': 'text/plain' })).status).toBe(400);
    expect((await fetch(`${url}/v1/nothing`)).status).toBe(404);
    expect((await fetch(`${url}/metrics`)).status).toBe(404); // not configured here
  });

  it('answers 409 to an idempotency key held by another caller', async () => {
    const { post } = await gateway();
    expect((await post({ userId: 'alice', idempotencyKey: 'job-1' })).status).toBe(201);
    const again = await post({ userId: 'alice', idempotencyKey: 'job-1' });
    expect(again.status).toBe(201);
    const taken = await post({ userId: 'mallory', idempotencyKey: 'job-1' });
    expect(taken.status).toBe(409);
    expect(await taken.json()).toMatchObject({ error: { code: 'duplicate' } });
  });

  it('healthz says alive, readyz says whether it admits; draining answers 503', async () => {
    const { url, post, admission } = await gateway();
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    const ready = await fetch(`${url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ ready: true, state: 'open', limit: 2 });
    const drained = admission.drain({ timeoutMs: 0 });
    const notReady = await fetch(`${url}/readyz`);
    expect(notReady.status).toBe(503);
    const refused = await post({ userId: 'late' });
    expect(refused.status).toBe(503);
    expect(await refused.json()).toMatchObject({ error: { code: 'draining' } });
    await drained;
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
  });

  it('serves the Prometheus metrics', async () => {
    const { url, post } = await gateway({ metrics: true });
    await post({ userId: 'u', tenantId: 'acme' });
    const text = await (await fetch(`${url}/metrics`)).text();
    expect(text).toContain('voice_backend_active_sessions{provider="simulated",tenant="acme"');
  });
});
