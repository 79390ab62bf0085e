import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  Admission,
  AdmissionError,
  type AdmissionErrorCode,
  BackendError,
  ConfigError,
  createBackend,
  toHttpError,
} from '../../src/index.js';

const CODES: readonly AdmissionErrorCode[] = [
  'capacity',
  'tenant_capacity',
  'queue_full',
  'queue_timeout',
  'aborted',
  'unhealthy',
  'draining',
  'duplicate',
  'store_unavailable',
];

/** The status column of the error-code table in docs/operations.md, by code. */
function documentedStatuses(): Map<string, number> {
  const page = readFileSync(new URL('../../docs/operations.md', import.meta.url), 'utf8');
  const rows = [...page.matchAll(/^\| `([a-z_]+)`\s*\|.*\|\s*(\d{3})\s*\|$/gm)];
  return new Map(rows.map(([, code, status]) => [code!, Number(status)]));
}

describe('toHttpError', () => {
  it('answers every admission code with the status docs/operations.md gives it', () => {
    const documented = documentedStatuses();
    for (const code of CODES) {
      const { status } = toHttpError(new AdmissionError(code, `refused: ${code}`));
      expect({ code, status }).toEqual({ code, status: documented.get(code) });
    }
  });

  it('says when to retry on 429 and 503, from the estimate or one second', () => {
    const later = toHttpError(new AdmissionError('capacity', 'full', { retryAfterMs: 2_300 }));
    expect(later.headers).toEqual({ 'retry-after': '3' });
    expect(later.body.error).toMatchObject({ code: 'capacity', retryAfterMs: 2_300 });
    expect(toHttpError(new AdmissionError('draining', 'draining')).headers).toEqual({
      'retry-after': '1',
    });
    expect(toHttpError(new AdmissionError('duplicate', 'held')).headers).toEqual({});
  });

  it('sends no Retry-After on a 429 no wait can help (a tenant capped at 0)', () => {
    const shutOut = toHttpError(new AdmissionError('tenant_capacity', 'capped at 0'));
    expect(shutOut.status).toBe(429);
    expect(shutOut.headers).toEqual({});
    expect(shutOut.body.error).not.toHaveProperty('retryAfterMs');
  });

  it('does not disclose who holds a duplicate key', () => {
    const answer = toHttpError(
      new AdmissionError('duplicate', 'key held by session s-123', { sessionId: 's-123' }),
    );
    expect(answer.status).toBe(409);
    expect(JSON.stringify(answer)).not.toContain('s-123');
  });

  it('maps backend failures to 504, 503 and 502, and anything else to a bare 500', () => {
    const status = (code: 'timeout' | 'stopped' | 'setup_failed') =>
      toHttpError(new BackendError(code, 'create_session', `create ${code}`)).status;
    expect([status('timeout'), status('stopped'), status('setup_failed')]).toEqual([504, 503, 502]);
    // What the provider or the system said stays out of the answer: it is for the logs.
    const failed = toHttpError(
      new BackendError('setup_failed', 'create_session', 'EACCES: open /srv/app/livekit.json'),
    );
    expect(failed.body).toEqual({
      error: { code: 'setup_failed', message: 'the voice backend failed (create_session)' },
    });
    const unknown = toHttpError(new Error('secret detail at /srv/app'));
    expect(unknown).toEqual({
      status: 500,
      headers: {},
      body: { error: { code: 'internal', message: 'internal error' } },
    });
  });

  it('answers a bad request (ConfigError) with 400 naming the field, echoing no value', async () => {
    const backend = await createBackend('simulated');
    await backend.start();
    const admission = new Admission(backend, { maxConcurrentSessions: 1, telemetry: false });
    const error = await admission
      .createSession({ userId: '', tenantId: 'acme' })
      .catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ConfigError);
    expect(toHttpError(error)).toEqual({
      status: 400,
      headers: {},
      body: { error: { code: 'bad_request', message: 'invalid sessionConfig.userId' } },
    });
    const secret = toHttpError(new ConfigError('request.tenantId', 'got "\u001b[31m-secret"'));
    expect(JSON.stringify(secret)).not.toContain('secret');
    await backend.stop();
  });
});
