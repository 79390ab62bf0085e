import { describe, expect, it } from 'vitest';
import { adaptive } from '../../src/admission/adaptive/adaptive-limit.js';
import { ACME_TOKEN, OPERATOR_TOKEN, startGateway, TOKENS } from './gateway-harness.js';

const sloLimit = () =>
  adaptive({ min: 1, max: 20, initial: 4, slo: { targetMs: 1_000, windowMs: 60_000 } });

describe('POST /v1/latency', () => {
  it("feeds the latency objective with an operator's samples (202), for any tenant", async () => {
    const { call, admission } = await startGateway({
      tokens: TOKENS,
      admission: { maxConcurrentSessions: 20, limit: sloLimit() },
    });
    const answer = await call('POST', '/v1/latency', {
      body: { samplesMs: [420, 380.5, 2_000] },
      token: OPERATOR_TOKEN,
    });
    expect(answer.status).toBe(202);
    expect(await answer.json()).toEqual({ accepted: 3, steering: true });
    expect(admission.stats().slo?.samples).toBe(3);

    const named = await call('POST', '/v1/latency', {
      body: { tenantId: 'globex', samplesMs: [500] },
      token: OPERATOR_TOKEN,
    });
    expect(named.status).toBe(202);
    expect(admission.stats().slo?.samples).toBe(4);
  });

  it("refuses a tenant's samples (403): they would shrink the limit every tenant shares", async () => {
    const { call, admission } = await startGateway({
      tokens: TOKENS,
      admission: { maxConcurrentSessions: 20, limit: sloLimit() },
    });
    const before = admission.stats().limit;
    for (let i = 0; i < 5; i++) {
      const answer = await call('POST', '/v1/latency', {
        body: { samplesMs: Array.from({ length: 1_000 }, () => 3_600_000) },
        token: ACME_TOKEN,
      });
      expect(answer.status).toBe(403);
      expect(await answer.json()).toEqual({
        error: {
          code: 'forbidden',
          message:
            'latency samples steer the limit all tenants share: report them with an operator token',
        },
      });
    }
    expect(admission.stats().slo?.samples).toBe(0);
    expect(admission.stats().limit).toBe(before);
  });

  it('refuses another tenant, no token, and malformed samples, taking none of them', async () => {
    const { call, admission } = await startGateway({
      tokens: TOKENS,
      admission: { maxConcurrentSessions: 20, limit: sloLimit() },
    });
    const refused = [
      await call('POST', '/v1/latency', {
        body: { tenantId: 'globex', samplesMs: [1] },
        token: ACME_TOKEN,
      }),
      await call('POST', '/v1/latency', { body: { samplesMs: [1] } }),
      await call('POST', '/v1/latency', { body: { samplesMs: [] }, token: OPERATOR_TOKEN }),
      await call('POST', '/v1/latency', { body: { samplesMs: [-5] }, token: OPERATOR_TOKEN }),
      await call('POST', '/v1/latency', { body: { samplesMs: ['9'] }, token: OPERATOR_TOKEN }),
      await call('POST', '/v1/latency', {
        body: { samplesMs: [1], extra: true },
        token: OPERATOR_TOKEN,
      }),
      await call('POST', '/v1/latency', { body: '{"samplesMs":[1]', token: OPERATOR_TOKEN }),
    ];
    expect(refused.map((r) => r.status)).toEqual([403, 401, 400, 400, 400, 400, 400]);
    for (const answer of refused)
      expect(await answer.json()).toMatchObject({ error: { code: expect.any(String) } });
    expect(admission.stats().slo?.samples).toBe(0);
  });

  it('says when samples steer nothing (no latency objective)', async () => {
    const { call } = await startGateway({ tokens: TOKENS });
    const answer = await call('POST', '/v1/latency', {
      body: { samplesMs: [300] },
      token: OPERATOR_TOKEN,
    });
    expect(answer.status).toBe(202);
    expect(await answer.json()).toEqual({ accepted: 1, steering: false });
  });
});
