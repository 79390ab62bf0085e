import { request as httpRequest } from 'node:http';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { BackendError } from '../../src/index.js';
import { SimulatedBackend } from '../../src/providers/simulated/simulated-backend.js';
import { startPrometheus } from '../../src/telemetry/prometheus.js';
import {
  ACME_TOKEN,
  GLOBEX_TOKEN,
  OPERATOR_TOKEN,
  startGateway,
  TOKENS,
} from './gateway-harness.js';

describe('the gateway over HTTP', () => {
  it('creates sessions (201 with connection info), refuses over the cap (429, Retry-After, JSON code), closes them', async () => {
    const { call, backend } = await startGateway();
    const first = await call('POST', '/v1/sessions', {
      body: { userId: 'caller-1', tenantId: 'acme' },
    });
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
    expect((await call('POST', '/v1/sessions', { body: { userId: 'caller-2' } })).status).toBe(201);

    const refused = await call('POST', '/v1/sessions', { body: { userId: 'caller-3' } });
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(await refused.json()).toMatchObject({
      error: { code: 'capacity', tenantId: 'default' },
    });

    const read = await call('GET', `/v1/sessions/${session.id}`);
    expect(read.status).toBe(200);
    const info = (await read.json()) as { connection: Record<string, unknown> };
    expect(info.connection).not.toHaveProperty('token');

    const closed = await call('DELETE', `/v1/sessions/${session.id}`);
    expect(closed.status).toBe(200);
    expect(await closed.json()).toMatchObject({ id: session.id, reason: 'closed' });
    expect(backend.getActiveSessionCount()).toBe(1);
    expect((await call('POST', '/v1/sessions', { body: { userId: 'caller-3' } })).status).toBe(201);
    expect((await call('DELETE', `/v1/sessions/${session.id}`)).status).toBe(404);
  });

  it('refuses a tenant capped at 0 at once, with 429 tenant_capacity and no Retry-After', async () => {
    const { call } = await startGateway({
      admission: { tenants: { max: { acme: 0 } }, queue: { maxSize: 10, timeoutMs: 60_000 } },
    });
    const refused = await call('POST', '/v1/sessions', {
      body: { userId: 'caller-1', tenantId: 'acme' },
    });
    expect(refused.status).toBe(429);
    expect(refused.headers.get('retry-after')).toBeNull();
    const { error } = (await refused.json()) as { error: Record<string, unknown> };
    expect(error).toMatchObject({ code: 'tenant_capacity', tenantId: 'acme' });
    expect(error).not.toHaveProperty('retryAfterMs');
  });

  it.each([
    ['bad JSON', '{"userId": ', 400, /JSON/],
    ['an array', '[1]', 400, /body must be object/],
    [
      'a __proto__ key',
      '{"userId":"u","__proto__":{"admin":true}}',
      400,
      /may not have a "__proto__" key/,
    ],
    [
      'constructor.prototype',
      '{"userId":"u","constructor":{"prototype":{}}}',
      400,
      /nor a "constructor" key holding "prototype"/,
    ],
    // JSON.parse keeps the last of the two: a proxy reading the first checked another request.
    ['a key given twice', '{"userId":"alice","userId":"mallory"}', 400, /a key twice/],
    ['a key given twice, once escaped', '{"userId":"u","user\\u0049d":"v"}', 400, /a key twice/],
    [
      'a key given twice in metadata',
      '{"userId":"u","metadata":{"a":1,"a":2}}',
      400,
      /a key twice/,
    ],
    ['an unknown field', { userId: 'u', color: 'red' }, 400, /must NOT have additional properties/],
    ['no userId', { tenantId: 't' }, 400, /must have required property 'userId'/],
    ['a bad priority', { userId: 'u', priority: 1.5 }, 400, /body.priority must be integer/],
    ['a number as a string', { userId: 'u', priority: '3' }, 400, /body.priority must be integer/],
    ['control characters in userId', { userId: 'eve\u001b[31m' }, 400, /body.userId must match/],
    ['a NUL in tenantId', { userId: 'u', tenantId: 'a\u0000b' }, 400, /body.tenantId must match/],
    ['a C1 control (CSI) in userId', { userId: 'eve\u009b31m' }, 400, /body.userId must match/],
    [
      'a next line (NEL) in idempotencyKey',
      { userId: 'u', idempotencyKey: 'k\u0085level=error' },
      400,
      /body.idempotencyKey must match/,
    ],
    ['a lone surrogate in userId', { userId: 'eve\ud800' }, 400, /body.userId must match/],
    [
      'a lone low surrogate in tenantId',
      { userId: 'u', tenantId: 'a\udc00' },
      400,
      /body.tenantId must match/,
    ],
    [
      // Thousands of levels fit in 16 KiB; serialising them for the provider would overflow.
      'metadata nested 8 000 levels deep',
      `{"userId":"u","metadata":{"a":${'['.repeat(8_000)}${']'.repeat(8_000)}}}`,
      400,
      /^invalid sessionConfig.metadata$/,
    ],
    [
      'an oversized body',
      { userId: 'u', metadata: { blob: 'x'.repeat(20_000) } },
      413,
      /too large/i,
    ],
  ])(
    'refuses %s with a clear message that echoes nothing',
    async (_what, body, status, message) => {
      const { call, backend } = await startGateway();
      const response = await call('POST', '/v1/sessions', { body });
      expect(response.status).toBe(status);
      const text = await response.text();
      const { error } = JSON.parse(text) as { error: { code: string; message: string } };
      expect(error.message).toMatch(message);
      expect(text).not.toContain('\\u001b');
      expect(backend.getActiveSessionCount()).toBe(0);
    },
  );

  it('takes a name repeated in different objects of one body', async () => {
    const { call } = await startGateway();
    const body =
      '{"userId":"u","metadata":{"userId":"x","list":[{"a":1},{"a":2}],"o":{},"p":{"a":1}}}';
    expect((await call('POST', '/v1/sessions', { body })).status).toBe(201);
  });

  it('takes ids with characters outside the BMP: a surrogate pair is one character', async () => {
    const { call } = await startGateway();
    const created = await call('POST', '/v1/sessions', {
      body: { userId: 'caf\u00e9-\ud83d\ude00', tenantId: '\ud83c\udf0d' },
    });
    expect(created.status).toBe(201);
    expect(await created.json()).toMatchObject({ userId: 'café-😀', tenantId: '🌍' });
  });

  it("answers a backend's failure with its code, and logs what it said without answering it", async () => {
    const detail = "EACCES: permission denied, open '/srv/voice/livekit.json'";
    class Failing extends SimulatedBackend {
      protected override async openSession(): Promise<never> {
        throw new Error(detail);
      }
    }
    const { call, logs } = await startGateway({ backend: new Failing({ providerConfig: {} }) });
    const failed = await call('POST', '/v1/sessions', { body: { userId: 'u' } });
    expect(failed.status).toBe(502);
    expect(await failed.json()).toEqual({
      error: { code: 'setup_failed', message: 'the voice backend failed (create_session)' },
    });
    await logs.seen((line) => line.msg === 'backend failed');
    const logged = logs.lines.find((line) => line.msg === 'backend failed');
    expect(logged).toMatchObject({
      level: 'warn',
      err: { code: 'setup_failed', message: expect.stringContaining(detail) },
    });
  });

  it('logs a failure without the secrets its causes quote (URL credentials, tokens, API secret)', async () => {
    const apiSecret = 'lk-api-secret-0123456789abcdef';
    const jwt = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJjYWxsZXIifQ.c2lnbmF0dXJlLWJ5dGVz';
    const bearer = 'gateway-bearer-token-0123456789';
    // What a client library may put in its own error: the request it sent, credentials and all.
    const raw = new Error(
      `GET wss://APIkey:${apiSecret}@lk.example/rtc?access_token=${jwt} failed ` +
        `(Authorization: Bearer ${bearer}; secret ${apiSecret})`,
      { cause: new Error(`socket closed; token ${jwt}`) },
    );
    class Failing extends SimulatedBackend {
      protected override async openSession(): Promise<never> {
        throw new BackendError('unavailable', 'create_session', 'LiveKit join failed', {
          provider: 'livekit',
          cause: raw,
        });
      }
    }
    const { call, logs } = await startGateway({
      backend: new Failing({ providerConfig: {} }),
      logSecrets: [apiSecret],
    });
    expect((await call('POST', '/v1/sessions', { body: { userId: 'u' } })).status).toBe(502);
    await logs.seen((line) => line.msg === 'backend failed');
    const logged = logs.lines.find((line) => line.msg === 'backend failed')!;
    // The causes are still told, without what they quoted.
    expect(logged).toMatchObject({
      err: {
        type: 'BackendError',
        message: expect.stringContaining('LiveKit join failed: GET wss://[redacted]@lk.example'),
        stack: expect.stringContaining('caused by: Error: socket closed; token [redacted]'),
      },
    });
    for (const secret of [apiSecret, jwt, bearer]) expect(logs.text).not.toContain(secret);
  });

  it('answers 415 to a body that is not JSON, saying what is, 404 to unknown routes and absent /metrics', async () => {
    const { url, call } = await startGateway();
    const plain = await call('POST', '/v1/sessions', {
      body: '{"userId":"u"}',
      headers: { 'content-type': 'text/plain' },
    });
    expect(plain.status).toBe(415);
    const notJson = {
      error: {
        code: 'unsupported_media_type',
        message: 'the body must be JSON, sent with Content-Type: application/json',
      },
    };
    expect(await plain.json()).toEqual(notJson);
    // Without a content type, and with one Fastify cannot parse, it is the same answer.
    for (const headers of [{}, { 'content-type': 'json' }]) {
      const response = await fetch(`${url}/v1/sessions`, {
        method: 'POST',
        headers,
        body: new Uint8Array(Buffer.from('{"userId":"u"}')),
      });
      expect(response.status).toBe(415);
      expect(await response.json()).toEqual(notJson);
    }
    const missing = await call('GET', '/v1/nothing');
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ error: { code: 'not_found' } });
    expect((await call('GET', '/metrics')).status).toBe(404);
  });

  it('answers a method a known path does not take with 405 and Allow, and OPTIONS with 204 and Allow', async () => {
    const { call } = await startGateway({ tokens: TOKENS });
    for (const [method, path, allow] of [
      ['PUT', '/v1/sessions/x', 'DELETE, GET, HEAD'],
      ['DELETE', '/v1/sessions', 'POST'],
      ['HEAD', '/v1/sessions', 'POST'],
      ['GET', '/v1/slots/x/renew', 'POST'],
      ['PATCH', '/v1/latency', 'POST'],
      ['POST', '/healthz', 'GET, HEAD'],
    ] as const) {
      const response = await call(method, path, { token: ACME_TOKEN });
      expect(response.status, `${method} ${path}`).toBe(405);
      expect(response.headers.get('allow')).toBe(allow);
      if (method !== 'HEAD') {
        expect(await response.json()).toEqual({
          error: { code: 'method_not_allowed', message: `this route takes ${allow} only` },
        });
      }
    }
    const options = await call('OPTIONS', '/v1/slots/x');
    expect(options.status).toBe(204);
    expect(options.headers.get('allow')).toBe('DELETE');
    expect((await call('PUT', '/v1/nowhere')).status).toBe(404);
    expect((await call('OPTIONS', '/v1/sessions/x/y')).status).toBe(404);
  });

  it('refuses a JSON null body with 400 like any body of the wrong type, where the body is optional too', async () => {
    const { call, admission, backend } = await startGateway({ tokens: TOKENS });
    const slot = (await (
      await call('POST', '/v1/slots', { token: ACME_TOKEN, body: {} })
    ).json()) as { id: string };
    for (const path of ['/v1/slots', `/v1/slots/${slot.id}/renew`, '/v1/sessions']) {
      const response = await call('POST', path, { token: ACME_TOKEN, body: 'null' });
      expect(response.status, path).toBe(400);
      expect(await response.json()).toEqual({
        error: { code: 'bad_request', message: 'body must be object' },
      });
    }
    expect(admission.stats().active).toBe(1);
    expect(backend.getActiveSessionCount()).toBe(0);
  });

  it('takes an empty body as none whatever its content type, on every route that reads bodies', async () => {
    const { call } = await startGateway({ tokens: TOKENS });
    const empty = (method: string, path: string, type: string) =>
      call(method, path, { token: ACME_TOKEN, body: '', headers: { 'content-type': type } });
    const created = await empty('POST', '/v1/slots', 'text/plain');
    expect(created.status).toBe(201);
    const { id } = (await created.json()) as { id: string };
    expect(
      (await empty('POST', `/v1/slots/${id}/renew`, 'application/x-www-form-urlencoded')).status,
    ).toBe(200);
    expect((await empty('DELETE', `/v1/slots/${id}`, 'text/plain;charset=UTF-8')).status).toBe(200);
    // A required body stays required: refused as missing, not as the wrong type.
    const session = await empty('POST', '/v1/sessions', 'text/plain');
    expect(session.status).toBe(400);
    expect(await session.json()).toEqual({
      error: { code: 'bad_request', message: 'body must be object' },
    });
  });

  it('answers 415 to a compressed body, naming its encoding, and creates nothing', async () => {
    const { url, call, backend } = await startGateway();
    const body = gzipSync(JSON.stringify({ userId: 'u' }));
    for (const [encoding, named] of [
      ['gzip', 'Content-Encoding gzip'],
      ['identity, br', 'Content-Encoding br'],
      ['x"y', 'a Content-Encoding'],
    ] as const) {
      const response = await fetch(`${url}/v1/sessions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-encoding': encoding },
        body,
      });
      expect(response.status, encoding).toBe(415);
      expect(await response.json()).toEqual({
        error: {
          code: 'unsupported_media_type',
          message: `the body is sent with ${named}: the gateway takes bodies uncompressed only`,
        },
      });
    }
    expect(backend.getActiveSessionCount()).toBe(0);
    // identity is no encoding at all.
    const plain = await call('POST', '/v1/sessions', {
      body: { userId: 'u' },
      headers: { 'content-encoding': 'identity' },
    });
    expect(plain.status).toBe(201);
  });

  it('answers 400 to a body that is not valid UTF-8, rather than reading its ids with U+FFFD in them', async () => {
    const { url, backend } = await startGateway({ admission: { maxConcurrentSessions: 10 } });
    // "José" and "Josè" in Latin-1: decoded with replacement, both would be "Jos\uFFFD", and
    // the second caller would be handed the first one's session by the idempotency key.
    const latin1 = (userId: string) =>
      fetch(`${url}/v1/sessions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json; charset=iso-8859-1' },
        body: Buffer.from(JSON.stringify({ userId, idempotencyKey: 'call-1' }), 'latin1'),
      });
    for (const userId of ['José', 'Josè']) {
      const response = await latin1(userId);
      expect(response.status, userId).toBe(400);
      expect(await response.json()).toEqual({
        error: { code: 'bad_request', message: 'the body is not valid UTF-8' },
      });
    }
    expect(backend.getActiveSessionCount()).toBe(0);
  });

  it('answers 415 to a compressed LiveKit webhook before checking its signature', async () => {
    const delivered: unknown[] = [];
    const { call } = await startGateway({
      livekitWebhook: async (request) => {
        delivered.push(request);
        return {
          event: 'room_finished',
          roomName: undefined,
          sessionId: undefined,
          action: 'ignored',
        };
      },
    });
    const response = await call('POST', '/webhooks/livekit', {
      body: '{"event":"room_finished"}',
      headers: { 'content-type': 'application/webhook+json', 'content-encoding': 'deflate' },
    });
    expect(response.status).toBe(415);
    expect(await response.json()).toMatchObject({
      error: { code: 'unsupported_media_type', message: /Content-Encoding deflate/ },
    });
    expect(delivered).toEqual([]);
  });

  it('answers 400 to malformed percent-encoding and to overlong ids in a path, with nothing on the error log', async () => {
    const { call, logs } = await startGateway();
    for (const path of ['/v1/sessions/%E0%A4%A', '/v1/slots/%zz', '/v1/slots/%E0%A4%A/renew']) {
      const method = path.endsWith('renew') ? 'POST' : 'DELETE';
      const response = await call(method, path);
      expect(response.status).toBe(400);
      const { error } = (await response.json()) as { error: { code: string; message: string } };
      expect(error.code).toBe('bad_request');
      expect(error.message).not.toContain('%'); // names the problem, echoes nothing
    }
    const tooLong = await call('GET', `/v1/sessions/${'a'.repeat(300)}`);
    expect(tooLong.status).toBe(400);
    expect(await tooLong.json()).toMatchObject({
      error: { message: 'params.id must NOT have more than 256 characters' },
    });
    expect(logs.lines.filter((l) => l.level === 'error')).toEqual([]);
    expect(logs.lines.filter((l) => l.msg === 'request' && l.status === 400)).toHaveLength(4);
  });

  it('answers 414 uri_too_long to a path id over the router limit, echoing nothing of it, before authentication', async () => {
    const { call, logs } = await startGateway({ tokens: TOKENS });
    const id = encodeURIComponent(`\u001b[31m${'a'.repeat(2_000)}`);
    for (const [method, path] of [
      ['GET', `/v1/sessions/${id}`],
      ['POST', `/v1/slots/${id}/renew`],
    ] as const) {
      const response = await call(method, path);
      expect(response.status).toBe(414);
      // The whole body: a fixed message, nothing of the path.
      expect(await response.json()).toEqual({
        error: {
          code: 'uri_too_long',
          message: 'the path is too long: ids are at most 256 characters',
        },
      });
    }
    expect(logs.lines.filter((l) => l.level === 'error')).toEqual([]);
  });

  it('answers 409 to an idempotency key held by another user, without disclosing the session', async () => {
    const { call } = await startGateway();
    const created = await call('POST', '/v1/sessions', {
      body: { userId: 'alice', idempotencyKey: 'job-1' },
    });
    const { id } = (await created.json()) as { id: string };
    const again = await call('POST', '/v1/sessions', {
      body: { userId: 'alice', idempotencyKey: 'job-1' },
    });
    expect(again.status).toBe(201);
    expect(((await again.json()) as { id: string }).id).toBe(id);
    const taken = await call('POST', '/v1/sessions', {
      body: { userId: 'mallory', idempotencyKey: 'job-1' },
    });
    expect(taken.status).toBe(409);
    const text = await taken.text();
    expect(JSON.parse(text)).toMatchObject({ error: { code: 'duplicate' } });
    expect(text).not.toContain(id);
  });

  it('healthz says alive, readyz says whether it admits; draining answers 503 with Retry-After', async () => {
    const { call, admission } = await startGateway();
    expect((await call('GET', '/healthz')).status).toBe(200);
    const ready = await call('GET', '/readyz');
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ ready: true, state: 'open', limit: 2 });
    const drained = admission.drain({ timeoutMs: 0 });
    const notReady = await call('GET', '/readyz');
    expect(notReady.status).toBe(503);
    const refused = await call('POST', '/v1/sessions', { body: { userId: 'late' } });
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(await refused.json()).toMatchObject({ error: { code: 'draining' } });
    await drained;
    expect((await call('GET', '/healthz')).status).toBe(200);
  });

  it('serves the Prometheus metrics', async () => {
    const prometheus = await startPrometheus({ serve: false, global: false });
    const { call } = await startGateway({
      metrics: prometheus.handler,
      admission: { telemetry: { meterProvider: prometheus.meterProvider } },
    });
    await call('POST', '/v1/sessions', { body: { userId: 'u', tenantId: 'acme' } });
    const text = await (await call('GET', '/metrics')).text();
    expect(text).toMatch(/voice_backend_active_sessions\{[^}]*tenant="acme"/);
    await prometheus.stop();
  });

  it('writes one JSON access line per request with time, level, tenant, status and duration', async () => {
    const { call, logs } = await startGateway({ tokens: TOKENS, logLevel: 'info' });
    await call('POST', '/v1/sessions', { body: { userId: 'u' }, token: ACME_TOKEN });
    await call('POST', '/v1/sessions', { body: { userId: 'u' }, token: 'not-a-token' });
    await call('GET', '/healthz'); // probes log at debug level only
    await logs.seen((l) => l.msg === 'request' && l.status === 401);
    const access = logs.lines.filter((l) => l.msg === 'request');
    expect(access).toHaveLength(2);
    expect(access[0]).toMatchObject({
      level: 'info',
      method: 'POST',
      path: '/v1/sessions',
      status: 201,
      tenant: 'acme',
    });
    expect(access[1]).toMatchObject({ status: 401, code: 'unauthorized' });
    for (const line of access) {
      expect(Date.parse(line.time as string)).not.toBeNaN();
      expect(line.durationMs).toBeGreaterThanOrEqual(0);
    }
    expect(logs.text).not.toContain(ACME_TOKEN);
    expect(logs.text).not.toContain('not-a-token');
  });
});

describe('authentication', () => {
  it('refuses /v1 without a token or with an unknown one (401), and never echoes the token', async () => {
    const { call } = await startGateway({ tokens: TOKENS });
    const none = await call('POST', '/v1/sessions', { body: { userId: 'u' } });
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe('Bearer');
    const guess = `${ACME_TOKEN.slice(0, -1)}X`;
    const wrong = await call('POST', '/v1/sessions', { body: { userId: 'u' }, token: guess });
    expect(wrong.status).toBe(401);
    expect(await wrong.text()).not.toContain(guess);
    const basic = await call('GET', '/v1/sessions/x', {
      headers: { authorization: `Basic ${ACME_TOKEN}` },
    });
    expect(basic.status).toBe(401);
    for (const path of ['/healthz', '/readyz', '/openapi.json']) {
      expect((await call('GET', path)).status).toBe(200);
    }
  });

  it('refuses a request with two Authorization headers (401), whichever comes first', async () => {
    const { url } = await startGateway({ tokens: TOKENS });
    // fetch() would join them into one header: send them as written, one line each.
    const statusWith = async (...tokens: string[]) => {
      const headers = [
        ...['host', new URL(url).host],
        ...tokens.flatMap((token) => ['authorization', `Bearer ${token}`]),
      ];
      return new Promise<number>((resolve, reject) => {
        const request = httpRequest(`${url}/v1/sessions/x`, { headers }, (response) => {
          response.resume();
          resolve(response.statusCode ?? 0);
        });
        request.on('error', reject).end();
      });
    };
    expect(await statusWith(ACME_TOKEN)).toBe(404);
    // A proxy in front that checked one of them may not have checked the one Node keeps.
    expect(await statusWith(ACME_TOKEN, GLOBEX_TOKEN)).toBe(401);
    expect(await statusWith(`${ACME_TOKEN}x`, OPERATOR_TOKEN)).toBe(401);
    expect(await statusWith(OPERATOR_TOKEN, OPERATOR_TOKEN)).toBe(401);
  });

  it('sees a second Authorization header past thousands of others (401)', async () => {
    const { url } = await startGateway({ tokens: TOKENS });
    // 2 500 short headers fit in Node's 16 KiB of headers, and are more than the 2 000 it keeps
    // by default: a header past those would not be seen.
    const filler = Array.from({ length: 2_500 }, () => ['x', '1']).flat();
    const status = await new Promise<number>((resolve, reject) => {
      const headers = [
        ...['host', new URL(url).host, 'authorization', `Bearer ${GLOBEX_TOKEN}`],
        ...filler,
        ...['authorization', `Bearer ${ACME_TOKEN}`],
      ];
      const request = httpRequest(`${url}/v1/sessions/x`, { headers }, (response) => {
        response.resume();
        resolve(response.statusCode ?? 0);
      });
      request.on('error', reject).end();
    });
    expect(status).toBe(401);
  });

  it("a tenant token may not raise its requests' priority above others' (403); it may lower it", async () => {
    const { call, admission } = await startGateway({
      tokens: TOKENS,
      admission: { maxConcurrentSessions: 10 },
    });
    for (const [path, body] of [
      ['/v1/sessions', { userId: 'u', priority: 1 }],
      ['/v1/slots', { priority: 100 }],
    ] as const) {
      const raised = await call('POST', path, { body, token: ACME_TOKEN });
      expect(raised.status).toBe(403);
      expect(await raised.json()).toEqual({
        error: {
          code: 'forbidden',
          message:
            'a priority above 0 goes before other tenants: only an operator token may set it',
        },
      });
    }
    expect(admission.stats().active).toBe(0);

    const lowered = await call('POST', '/v1/sessions', {
      body: { userId: 'u', priority: -5 },
      token: ACME_TOKEN,
    });
    expect(lowered.status).toBe(201);
    const operator = await call('POST', '/v1/slots', {
      body: { tenantId: 'globex', priority: 100 },
      token: OPERATOR_TOKEN,
    });
    expect(operator.status).toBe(201);
    expect(admission.stats().active).toBe(2);
  });

  it('a tenant token acts for its tenant only: 403 naming another, 404 for its sessions and slots', async () => {
    const { call, backend } = await startGateway({
      tokens: TOKENS,
      admission: { maxConcurrentSessions: 10 },
    });
    const own = await call('POST', '/v1/sessions', { body: { userId: 'u' }, token: ACME_TOKEN });
    expect(own.status).toBe(201);
    const session = (await own.json()) as { id: string; tenantId: string };
    expect(session.tenantId).toBe('acme');
    const named = await call('POST', '/v1/sessions', {
      body: { userId: 'u', tenantId: 'acme' },
      token: ACME_TOKEN,
    });
    expect(named.status).toBe(201);

    const other = await call('POST', '/v1/sessions', {
      body: { userId: 'u', tenantId: 'globex' },
      token: ACME_TOKEN,
    });
    expect(other.status).toBe(403);
    expect(await other.json()).toMatchObject({ error: { code: 'forbidden' } });
    expect(
      (await call('POST', '/v1/slots', { body: { tenantId: 'globex' }, token: ACME_TOKEN })).status,
    ).toBe(403);

    // globex can neither read nor close acme's session: it does not exist for globex.
    expect((await call('GET', `/v1/sessions/${session.id}`, { token: GLOBEX_TOKEN })).status).toBe(
      404,
    );
    expect(
      (await call('DELETE', `/v1/sessions/${session.id}`, { token: GLOBEX_TOKEN })).status,
    ).toBe(404);
    expect(backend.getSession(session.id)?.state).toBe('active');

    const slot = await call('POST', '/v1/slots', { body: {}, token: ACME_TOKEN });
    const { id: slotId } = (await slot.json()) as { id: string };
    expect(
      (await call('POST', `/v1/slots/${slotId}/renew`, { body: {}, token: GLOBEX_TOKEN })).status,
    ).toBe(404);
    expect((await call('DELETE', `/v1/slots/${slotId}`, { token: GLOBEX_TOKEN })).status).toBe(404);

    // Idempotency keys are per tenant: globex's key cannot reach acme's session.
    await call('POST', '/v1/sessions', {
      body: { userId: 'alice', idempotencyKey: 'k' },
      token: ACME_TOKEN,
    });
    const guessed = await call('POST', '/v1/sessions', {
      body: { userId: 'alice', idempotencyKey: 'k' },
      token: GLOBEX_TOKEN,
    });
    expect(guessed.status).toBe(201);
    expect(((await guessed.json()) as { tenantId: string }).tenantId).toBe('globex');

    // The operator acts for anyone.
    expect(
      (await call('GET', `/v1/sessions/${session.id}`, { token: OPERATOR_TOKEN })).status,
    ).toBe(200);
    const forGlobex = await call('POST', '/v1/sessions', {
      body: { userId: 'u', tenantId: 'globex' },
      token: OPERATOR_TOKEN,
    });
    expect(forGlobex.status).toBe(201);
    expect((await call('DELETE', `/v1/sessions/${session.id}`, { token: ACME_TOKEN })).status).toBe(
      200,
    );
  });
});
