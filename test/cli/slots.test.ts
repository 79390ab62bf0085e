import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redisStore } from '../../src/admission/index.js';
import { type RedisServer, startRedis } from '../support/redis-server.js';
import { ACME_TOKEN, GLOBEX_TOKEN, startGateway, TOKENS } from './gateway-harness.js';

interface SlotBody {
  id: string;
  tenantId: string;
  key?: string;
  ttlSeconds: number;
  expiresAt: string;
}

describe('slots for agent workers', () => {
  it('acquire (201 with id and expiry), renew, release; at the cap 429 with Retry-After', async () => {
    const { call, admission } = await startGateway({
      tokens: TOKENS,
      admission: { maxConcurrentSessions: 1, queue: { maxSize: 0 } },
    });
    const before = Date.now();
    const taken = await call('POST', '/v1/slots', {
      body: { key: 'job-1', ttlSeconds: 30 },
      token: ACME_TOKEN,
    });
    expect(taken.status).toBe(201);
    const slot = (await taken.json()) as SlotBody;
    expect(slot).toMatchObject({ tenantId: 'acme', key: 'job-1', ttlSeconds: 30 });
    expect(Date.parse(slot.expiresAt)).toBeGreaterThanOrEqual(before + 30_000);
    expect(taken.headers.get('location')).toBe(`/v1/slots/${slot.id}`);
    expect(admission.stats().active).toBe(1);

    const full = await call('POST', '/v1/slots', { token: GLOBEX_TOKEN });
    expect(full.status).toBe(429);
    expect(Number(full.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(await full.json()).toMatchObject({ error: { code: 'capacity' } });

    const renewed = await call('POST', `/v1/slots/${slot.id}/renew`, {
      body: { ttlSeconds: 120 },
      token: ACME_TOKEN,
    });
    expect(renewed.status).toBe(200);
    const after = (await renewed.json()) as SlotBody;
    expect(after.ttlSeconds).toBe(120);
    expect(Date.parse(after.expiresAt)).toBeGreaterThan(Date.parse(slot.expiresAt));
    // A renew with no body keeps the lease length.
    expect((await call('POST', `/v1/slots/${slot.id}/renew`, { token: ACME_TOKEN })).status).toBe(
      200,
    );
    // Nor does an empty one sent as JSON (clients that always set the content type).
    const emptyJson = { token: ACME_TOKEN, headers: { 'content-type': 'application/json' } };
    expect((await call('POST', `/v1/slots/${slot.id}/renew`, emptyJson)).status).toBe(200);

    const released = await call('DELETE', `/v1/slots/${slot.id}`, emptyJson);
    expect(released.status).toBe(200);
    expect(await released.json()).toEqual({ id: slot.id, released: true });
    expect(admission.stats().active).toBe(0);
    expect((await call('DELETE', `/v1/slots/${slot.id}`, { token: ACME_TOKEN })).status).toBe(404);
    expect(
      (await call('POST', `/v1/slots/${slot.id}/renew`, { body: {}, token: ACME_TOKEN })).status,
    ).toBe(404);
    const optional = await call('POST', '/v1/slots', {
      token: GLOBEX_TOKEN,
      headers: { 'content-type': 'application/json' },
    });
    expect(optional.status).toBe(201);
    // Where a body is required, an empty one is refused like any other non-object.
    const noUser = await call('POST', '/v1/sessions', emptyJson);
    expect(noUser.status).toBe(400);
    expect(await noUser.json()).toMatchObject({ error: { code: 'bad_request' } });
  });

  it('refuses a key held by another slot with 409 that discloses nothing, then frees it on release', async () => {
    const { call } = await startGateway({ tokens: TOKENS });
    const first = await call('POST', '/v1/slots', { body: { key: 'job-7' }, token: ACME_TOKEN });
    const { id } = (await first.json()) as SlotBody;
    const second = await call('POST', '/v1/slots', { body: { key: 'job-7' }, token: ACME_TOKEN });
    expect(second.status).toBe(409);
    const text = await second.text();
    expect(JSON.parse(text)).toEqual({ error: { code: 'duplicate', message: 'the key is held' } });
    expect(text).not.toContain(id);
    // Nor is a body naming the key twice served with the last one, a key that is free.
    const twice = await call('POST', '/v1/slots', {
      body: '{"key":"job-7","key":"job-8"}',
      token: ACME_TOKEN,
    });
    expect(twice.status).toBe(400);
    expect(await twice.json()).toMatchObject({ error: { code: 'bad_request' } });
    // Keys are per tenant: another tenant's job with the same id is its own.
    expect(
      (await call('POST', '/v1/slots', { body: { key: 'job-7' }, token: GLOBEX_TOKEN })).status,
    ).toBe(201);
    await call('DELETE', `/v1/slots/${id}`, { token: ACME_TOKEN });
    expect(
      (await call('POST', '/v1/slots', { body: { key: 'job-7' }, token: ACME_TOKEN })).status,
    ).toBe(201);
  });

  it('refuses concurrent requests for one key while the first is still waiting for a slot', async () => {
    const { call } = await startGateway({
      admission: { maxConcurrentSessions: 1, queue: { maxSize: 10, timeoutMs: 30_000 } },
    });
    const blocker = (await (await call('POST', '/v1/slots', { body: {} })).json()) as SlotBody;
    const waiting = call('POST', '/v1/slots', { body: { key: 'job-9' } }); // queued
    const duplicate = await call('POST', '/v1/slots', { body: { key: 'job-9' } });
    expect(duplicate.status).toBe(409);
    await call('DELETE', `/v1/slots/${blocker.id}`);
    expect((await waiting).status).toBe(201);
  });

  it('releases a slot whose holder stops renewing at the end of its lease', async () => {
    const { call, admission, logs } = await startGateway({
      admission: { maxConcurrentSessions: 1, queue: { maxSize: 0 } },
    });
    const taken = await call('POST', '/v1/slots', { body: { key: 'job-2', ttlSeconds: 1 } });
    const { id } = (await taken.json()) as SlotBody;
    expect((await call('POST', '/v1/slots', { body: {} })).status).toBe(429);
    await logs.seen((l) => l.msg === 'slot released' && l.slot === id && l.why === 'expired');
    expect(admission.stats().active).toBe(0);
    expect((await call('POST', `/v1/slots/${id}/renew`, { body: {} })).status).toBe(404);
    const again = await call('POST', '/v1/slots', { body: { key: 'job-2' } });
    expect(again.status).toBe(201);
  });

  it('stops waiting for a slot when its client hangs up in the queue', async () => {
    const { url, admission, logs } = await startGateway({
      admission: { maxConcurrentSessions: 1, queue: { maxSize: 10, timeoutMs: 30_000 } },
    });
    const blocker = (await (
      await fetch(`${url}/v1/slots`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: '{}',
      })
    ).json()) as SlotBody;
    const leaving = new AbortController();
    const queuedNow = new Promise<void>((resolve) => {
      const stop = admission.on('queued', () => {
        stop();
        resolve();
      });
    });
    const queued = fetch(`${url}/v1/slots`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"key":"job-3"}',
      signal: leaving.signal,
    }).catch((error: unknown) => error);
    await queuedNow;
    leaving.abort();
    await queued;
    await logs.seen((l) => l.msg === 'request' && l.status === 499);
    expect(admission.stats().queued).toBe(0);
    await fetch(`${url}/v1/slots/${blocker.id}`, { method: 'DELETE' });
    expect(admission.stats().active).toBe(0);
    // Its key was never taken.
    const reused = await fetch(`${url}/v1/slots`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"key":"job-3"}',
    });
    expect(reused.status).toBe(201);
  });

  it('takes the slot back when a drain reaches its deadline', async () => {
    const { call, admission, logs } = await startGateway();
    const { id } = (await (await call('POST', '/v1/slots', { body: {} })).json()) as SlotBody;
    const result = await admission.drain({ timeoutMs: 0 });
    expect(result.stillActive).toBe(0);
    await logs.seen((l) => l.msg === 'slot released' && l.slot === id && l.why === 'revoked');
    expect((await call('DELETE', `/v1/slots/${id}`)).status).toBe(404);
  });

  it('a renew during a drain answers an expiry no later than the drain takes the slot back', async () => {
    const { call, admission, logs } = await startGateway({ drainTimeoutMs: 2_000 });
    const created = await call('POST', '/v1/slots', { body: { ttlSeconds: 60 } });
    const { id } = (await created.json()) as SlotBody;
    const drainStarted = Date.now();
    const drained = admission.drain({ timeoutMs: 2_000 });
    const renewed = await call('POST', `/v1/slots/${id}/renew`, { body: { ttlSeconds: 60 } });
    expect(renewed.status).toBe(200);
    const body = (await renewed.json()) as SlotBody;
    const expiresAt = Date.parse(body.expiresAt);
    expect(expiresAt).toBeLessThanOrEqual(Date.now() + 2_000);
    expect(expiresAt).toBeGreaterThanOrEqual(drainStarted + 2_000 - 1);
    // The lease it asked for is still the one it holds until then.
    expect(body.ttlSeconds).toBe(60);
    await drained;
    await logs.seen((l) => l.msg === 'slot released' && l.slot === id && l.why === 'revoked');
    expect(Date.now()).toBeGreaterThanOrEqual(expiresAt - 50);
  });

  it.each([
    [{ ttlSeconds: 0 }, /body.ttlSeconds must be >= 1/],
    [{ ttlSeconds: 3601 }, /body.ttlSeconds must be <= 3600/],
    [{ key: '' }, /body.key must NOT have fewer than 1 characters/],
    [{ key: 'job\u001b[2J' }, /body.key must match pattern/],
    [{ lease: 5 }, /must NOT have additional properties/],
  ])('refuses a bad acquire body %j with 400', async (body, message) => {
    const { call } = await startGateway();
    const response = await call('POST', '/v1/slots', { body });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: { message: string } }).error.message).toMatch(
      message,
    );
  });
});

describe('slots with the Redis store', () => {
  let redis: RedisServer;
  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await redis?.stop();
  });

  it('holds the shared cap, and a holder that stops renewing loses its slot at the lease end', async () => {
    const name = `slots-${Date.now()}`;
    redis.seedLimiter(name);
    const store = redisStore({ redis: redis.url, name });
    let closeFirst: (() => Promise<unknown>) | undefined;
    try {
      const { call, logs, app } = await startGateway({
        admission: { maxConcurrentSessions: 1, queue: { maxSize: 0 }, store },
      });
      closeFirst = () => app.close();
      const taken = await call('POST', '/v1/slots', { body: { key: 'job-r', ttlSeconds: 1 } });
      expect(taken.status).toBe(201);
      const { id } = (await taken.json()) as SlotBody;
      expect((await store.usage()).active).toBe(1);
      expect((await call('POST', '/v1/slots', { body: {} })).status).toBe(429);
      await logs.seen((l) => l.msg === 'slot released' && l.slot === id && l.why === 'expired');
      const freed = await call('POST', '/v1/slots', { body: { key: 'job-r' } });
      expect(freed.status).toBe(201);
      expect((await store.usage()).active).toBe(1);
    } finally {
      await closeFirst?.(); // the gateway gives its slots back before the store closes
      await store.close();
    }
  });

  it('refuses a key held through another gateway on the same limiter, until that slot is released', async () => {
    const name = `slot-keys-${Date.now()}`;
    redis.seedLimiter(name);
    const stores = [redisStore({ redis: redis.url, name }), redisStore({ redis: redis.url, name })];
    const gateways: Awaited<ReturnType<typeof startGateway>>[] = [];
    try {
      for (const store of stores) {
        gateways.push(await startGateway({ admission: { maxConcurrentSessions: 5, store } }));
      }
      const [a, b] = gateways as [(typeof gateways)[0], (typeof gateways)[0]];
      const taken = await a.call('POST', '/v1/slots', { body: { key: 'job-9' } });
      expect(taken.status).toBe(201);
      const second = await b.call('POST', '/v1/slots', { body: { key: 'job-9' } });
      expect(second.status).toBe(409);
      expect(await second.json()).toEqual({
        error: { code: 'duplicate', message: 'the key is held' },
      });
      expect((await stores[1]!.usage()).active).toBe(1); // the refused request's slot is back
      // Keys are per tenant, and a session's idempotency key is not a slot's key.
      const other = { key: 'job-9', tenantId: 'globex' };
      expect((await b.call('POST', '/v1/slots', { body: other })).status).toBe(201);
      const session = { userId: 'u', idempotencyKey: 'job-9' };
      expect((await b.call('POST', '/v1/sessions', { body: session })).status).toBe(201);
      const { id } = (await taken.json()) as SlotBody;
      await a.call('DELETE', `/v1/slots/${id}`);
      expect((await b.call('POST', '/v1/slots', { body: { key: 'job-9' } })).status).toBe(201);
    } finally {
      for (const { app } of gateways) await app.close();
      await Promise.all(stores.map((store) => store.close()));
    }
  });
});
