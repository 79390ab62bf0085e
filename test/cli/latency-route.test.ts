import { describe, expect, it } from 'vitest';
import { adaptive } from '../../src/admission/adaptive/adaptive-limit.js';
import {
  ACME_TOKEN,
  GLOBEX_TOKEN,
  OPERATOR_TOKEN,
  startGateway,
  TOKENS,
} from './gateway-harness.js';

const sloLimit = () =>
  adaptive({ min: 1, max: 20, initial: 4, slo: { targetMs: 1_000, windowMs: 60_000 } });

describe('POST /v1/latency', () => {
  it('feeds the latency objective with the token tenant samples (202)', async () => {
    const { call, admission } = await startGateway({
      tokens: TOKENS,
      admission: { maxConcurrentSessions: 20, limit: sloLimit() },
    });
    const answer = await call('POST', '/v1/latency', {
      body: { samplesMs: [420, 380.5, 2_000] },
      token: ACME_TOKEN,
    });
    expect(answer.status).toBe(202);
    expect(await answer.json()).toEqual({ accepted: 3, steering: true });
    expect(admission.stats().slo?.samples).toBe(3);

    const operator = await call('POST', '/v1/latency', {
      body: { tenantId: 'globex', samplesMs: [500] },
      token: OPERATOR_TOKEN,
    });
    expect(operator.status).toBe(202);
    expect(admission.stats().slo?.samples).toBe(4);
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
      await call('POST', '/v1/latency', { body: { samplesMs: [] }, token: GLOBEX_TOKEN }),
      await call('POST', '/v1/latency', { body: { samplesMs: [-5] }, token: GLOBEX_TOKEN }),
      await call('POST', '/v1/latency', { body: { samplesMs: ['9'] }, token: GLOBEX_TOKEN }),
      await call('POST', '/v1/latency', {
        body: { samplesMs: [1], extra: true },
        token: GLOBEX_TOKEN,
      }),
      await call('POST', '/v1/latency', { body: '{"samplesMs":[1]', token: GLOBEX_TOKEN }),
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
      token: ACME_TOKEN,
    });
    expect(answer.status).toBe(202);
    expect(await answer.json()).toEqual({ accepted: 1, steering: false });
  });
});
