import { describe, expect, it } from 'vitest';
import { liveKitBackend, startStandIn } from '../providers/livekit/fixture.js';
import { startGateway } from './gateway-harness.js';

describe("the gateway and a provider's own rules on a session", () => {
  it('answers 400 naming the field to a userId LiveKit could never serve, with nothing held and nothing logged as a failure', async () => {
    const standIn = await startStandIn();
    const backend = await liveKitBackend(standIn);
    const { call, admission, logs } = await startGateway({ backend });
    // 129 characters pass the gateway's schema (256 characters); 258 bytes exceed LiveKit's.
    const userId = 'é'.repeat(129);
    const refused = await call('POST', '/v1/sessions', {
      body: { userId, idempotencyKey: 'call-1' },
    });
    expect(refused.status).toBe(400);
    expect(refused.headers.get('retry-after')).toBeNull();
    const text = await refused.text();
    expect(JSON.parse(text)).toEqual({
      error: { code: 'bad_request', message: 'invalid sessionConfig.userId' },
    });
    expect(text).not.toContain('é');

    expect(standIn.totalCalls).toBe(0);
    expect(admission.stats()).toMatchObject({ active: 0, queued: 0, settingUp: 0 });
    expect(backend.getActiveSessionCount()).toBe(0);
    await logs.seen((line) => line.msg === 'request' && line.status === 400);
    expect(logs.lines.filter((line) => line.level === 'warn' || line.level === 'error')).toEqual(
      [],
    );

    // The key was never taken: a valid request with it is served.
    const created = await call('POST', '/v1/sessions', {
      body: { userId: 'é'.repeat(128), idempotencyKey: 'call-1' },
    });
    expect(created.status).toBe(201);
    const { id } = (await created.json()) as { id: string };
    expect((await call('DELETE', `/v1/sessions/${id}`)).status).toBe(200);
  });
});
