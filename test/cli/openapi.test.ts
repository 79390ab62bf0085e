import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { describe, expect, it } from 'vitest';
import { openApiDocument } from '../../src/cli/gateway/openapi.js';
import { startPrometheus } from '../../src/telemetry/prometheus.js';
import {
  ACME_TOKEN,
  exitCode,
  GLOBEX_TOKEN,
  OPERATOR_TOKEN,
  startGateway,
  TOKENS,
} from './gateway-harness.js';

interface Operation {
  responses: Record<
    string,
    { content: Record<string, { schema: object }>; headers?: Record<string, unknown> }
  >;
}
type Document = { openapi: string; paths: Record<string, Record<string, Operation>> };

/** Checks a real response against the operation the document gives for its path and method. */
function conformance(document: Document) {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  const routes = Object.entries(document.paths).map(([template, operations]) => ({
    pattern: new RegExp(`^${template.replace(/\{[^}]+\}/g, '[^/]+')}$`),
    operations,
  }));
  const checked = new Set<string>();
  return {
    checked,
    async check(method: string, path: string, response: Response): Promise<void> {
      const where = `${method} ${path} -> ${response.status}`;
      const route = routes.find((r) => r.pattern.test(path.split('?')[0]!));
      const operation = route?.operations[method.toLowerCase()];
      expect(operation, `${where}: no such operation in the document`).toBeDefined();
      const documented = operation!.responses[String(response.status)];
      expect(documented, `${where}: status not documented`).toBeDefined();
      const type = (response.headers.get('content-type') ?? '').split(';')[0]!;
      const content = documented!.content[type];
      expect(content, `${where}: content type ${type} not documented`).toBeDefined();
      if (documented!.headers?.['Retry-After'] !== undefined) {
        expect(Number(response.headers.get('retry-after')), where).toBeGreaterThanOrEqual(1);
      }
      // Every header the API sets on purpose is in the document, and is there when promised.
      const location = response.headers.get('location');
      expect(location !== null, `${where}: Location`).toBe(
        documented!.headers?.Location !== undefined,
      );
      if (location !== null) expect(location, where).toMatch(/^\/v1\/(sessions|slots)\/[^/]+$/);
      const challenge = response.headers.get('www-authenticate');
      expect(challenge !== null, `${where}: WWW-Authenticate`).toBe(
        documented!.headers?.['WWW-Authenticate'] !== undefined,
      );
      const text = await response.text();
      const body: unknown = type === 'application/json' ? JSON.parse(text) : text;
      const validate = ajv.compile(content!.schema);
      expect(validate(body), `${where}: ${ajv.errorsText(validate.errors)}\n${text}`).toBe(true);
      checked.add(`${method} ${route!.pattern.source} ${response.status}`);
    },
  };
}

describe('the OpenAPI document', () => {
  it('is OpenAPI 3.1 with JSON Schemas that compile, and docs/openapi.json is the one served', async () => {
    const { call } = await startGateway();
    const served = (await (await call('GET', '/openapi.json')).json()) as Document;
    expect(served.openapi).toBe('3.1.0');
    const ajv = new Ajv2020({ strict: false });
    for (const operations of Object.values(served.paths)) {
      for (const operation of Object.values(operations)) {
        for (const response of Object.values(operation.responses)) {
          for (const { schema } of Object.values(response.content)) ajv.compile(schema);
        }
      }
    }
    const version = (
      JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
        version: string;
      }
    ).version;
    const written = JSON.parse(
      readFileSync(new URL('../../docs/openapi.json', import.meta.url), 'utf8'),
    ) as unknown;
    expect(written, 'docs/openapi.json is stale: run npm run cli -- openapi').toEqual(
      openApiDocument(version),
    );
    expect(served).toEqual(openApiDocument('0.0.0-test'));
  });

  it('describes every real response: statuses, bodies and Retry-After', async () => {
    const prometheus = await startPrometheus({ serve: false, global: false });
    const { call, admission } = await startGateway({
      tokens: TOKENS,
      metrics: prometheus.handler,
      admission: {
        maxConcurrentSessions: 2,
        queue: { maxSize: 0 },
        telemetry: { meterProvider: prometheus.meterProvider },
      },
    });
    const document = (await (await call('GET', '/openapi.json')).json()) as Document;
    const { check, checked } = conformance(document);
    const hit = async (
      method: string,
      path: string,
      init: Parameters<typeof call>[2] = {},
    ): Promise<Response> => {
      const response = await call(method, path, init);
      await check(method, path, response.clone());
      return response;
    };

    const created = await hit('POST', '/v1/sessions', {
      body: { userId: 'u1', idempotencyKey: 'k' },
      token: ACME_TOKEN,
    });
    const { id } = (await created.json()) as { id: string };
    await hit('POST', '/v1/sessions', {
      body: { userId: 'u2', idempotencyKey: 'k' },
      token: ACME_TOKEN,
    });
    await hit('POST', '/v1/sessions', { body: { userId: 'u3' }, token: ACME_TOKEN });
    await hit('POST', '/v1/sessions', { body: { userId: 'u4' }, token: ACME_TOKEN }); // 429
    await hit('POST', '/v1/sessions', { body: { userId: 'u' } }); // 401
    await hit('POST', '/v1/sessions', {
      body: { userId: 'u', tenantId: 'globex' },
      token: ACME_TOKEN,
    });
    await hit('POST', '/v1/sessions', { body: { userId: 'u', extra: 1 }, token: ACME_TOKEN });
    await hit('POST', '/v1/sessions', {
      body: { userId: 'u', metadata: { blob: 'x'.repeat(20_000) } },
      token: ACME_TOKEN,
    });
    await hit('POST', '/v1/sessions', {
      body: 'userId=u',
      token: ACME_TOKEN,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    await hit('GET', `/v1/sessions/${id}`, { token: ACME_TOKEN });
    await hit('GET', `/v1/sessions/${id}`, { token: GLOBEX_TOKEN }); // 404
    await hit('GET', '/v1/sessions/%E0%A4%A', { token: ACME_TOKEN }); // 400
    await hit('GET', `/v1/sessions/${'a'.repeat(2_000)}`, { token: ACME_TOKEN }); // 414
    await hit('DELETE', `/v1/sessions/${id}`, { token: OPERATOR_TOKEN });
    await hit('DELETE', `/v1/sessions/${id}`, { token: OPERATOR_TOKEN }); // 404

    const slot = await hit('POST', '/v1/slots', { body: { key: 'job' }, token: GLOBEX_TOKEN });
    const slotId = ((await slot.json()) as { id: string }).id;
    await hit('POST', '/v1/slots', { body: { key: 'job' }, token: GLOBEX_TOKEN }); // 409
    await hit('POST', '/v1/slots', { token: GLOBEX_TOKEN }); // 429: full
    await hit('POST', '/v1/slots', { body: { tenantId: 'acme' }, token: GLOBEX_TOKEN }); // 403
    await hit('POST', '/v1/slots', { body: { ttlSeconds: 0 }, token: GLOBEX_TOKEN }); // 400
    await hit('POST', `/v1/slots/${slotId}/renew`, {
      body: { ttlSeconds: 5 },
      token: GLOBEX_TOKEN,
    });
    await hit('POST', `/v1/slots/${slotId}/renew`, { token: ACME_TOKEN }); // 404
    await hit('DELETE', `/v1/slots/${slotId}`, { token: GLOBEX_TOKEN });
    await hit('DELETE', `/v1/slots/${slotId}`, { token: GLOBEX_TOKEN }); // 404
    // Bodies are read on every route that may carry one, even where none is expected.
    const huge = { body: JSON.stringify(['x'.repeat(20_000)]), token: GLOBEX_TOKEN };
    const text = { body: 'x', token: GLOBEX_TOKEN, headers: { 'content-type': 'text/plain' } };
    for (const path of [`/v1/sessions/${id}`, `/v1/slots/${slotId}`]) {
      await hit('DELETE', path, huge); // 413
      await hit('DELETE', path, text); // 415
    }
    await hit('POST', `/v1/slots/${slotId}/renew`, huge); // 413

    await hit('GET', '/healthz');
    await hit('GET', '/readyz');
    await hit('GET', '/metrics');
    await hit('GET', '/openapi.json');
    const drained = admission.drain({ timeoutMs: 0 });
    await hit('GET', '/readyz'); // 503
    await hit('POST', '/v1/slots', { body: {}, token: ACME_TOKEN }); // 503 draining
    await drained;

    const statuses = [...checked].map((entry) => entry.split(' ').pop());
    for (const status of [
      '200',
      '201',
      '400',
      '401',
      '403',
      '404',
      '409',
      '413',
      '414',
      '415',
      '429',
      '503',
    ]) {
      expect(statuses).toContain(status);
    }
    await prometheus.stop();
  });
});

describe('voice-admission openapi', () => {
  it('piped into a reader that stops early (| head), ends quietly with 0', async () => {
    const cli = new URL('../../src/cli/main.ts', import.meta.url).pathname;
    const child = spawn(process.execPath, ['--import', 'tsx', cli, 'openapi'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    // The reader leaves at once; the document is larger than a pipe's buffer, so writing it
    // meets the closed pipe.
    child.stdout.destroy();
    expect({ code: await exitCode(child), stderr }).toEqual({ code: 0, stderr: '' });
  }, 30_000);
});
