import { afterEach, describe, expect, it } from 'vitest';
import { type RunningGateway, serve } from '../../src/cli/serve.js';
import { parseServeConfig } from '../../src/cli/serve-config.js';
import { MAX_TENANT_LABEL_LENGTH, TenantLabels } from '../../src/telemetry/tenant-labels.js';
import { ACME_TOKEN, GLOBEX_TOKEN, LogLines, OPERATOR_TOKEN, TOKENS } from './gateway-harness.js';

let running: RunningGateway | undefined;
afterEach(async () => {
  await running?.close();
  running = undefined;
});

const tenantLabels = (text: string): Set<string> =>
  new Set([...text.matchAll(/[{,_]tenant="([^"]*)"/g)].map((m) => m[1]!));

describe('metric labels for tenants', () => {
  it('only the tenants the operator named get their own label; made-up ids cannot take one', async () => {
    const config = parseServeConfig(
      [
        ...['--port', '0', '--metrics', '--max-sessions', '200', '--tenant-caps', 'initech=5'],
        ...['--setup-concurrency', '10'], // within the simulated backend's setup capacity
      ],
      { AUTH_TOKENS: TOKENS },
    );
    running = await serve(config, { version: 'test', logStream: new LogLines() });
    const post = (tenantId: string | undefined, token: string) =>
      fetch(`${running!.url}/v1/sessions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ userId: 'u', ...(tenantId === undefined ? {} : { tenantId }) }),
      });
    // 60 made-up tenants arrive first, with ids as long as the API allows.
    const junk = await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        post(`${String(i).padStart(3, '0')}${'x'.repeat(125)}`, OPERATOR_TOKEN),
      ),
    );
    expect(junk.map((r) => r.status)).toEqual(Array(60).fill(201));
    expect((await post(undefined, ACME_TOKEN)).status).toBe(201);
    expect((await post(undefined, GLOBEX_TOKEN)).status).toBe(201);
    expect((await post('initech', OPERATOR_TOKEN)).status).toBe(201);
    const text = await (await fetch(running.metricsUrl!)).text();
    expect(tenantLabels(text)).toEqual(new Set(['acme', 'globex', 'initech', 'other']));
    expect(text).toMatch(/voice_backend_active_sessions\{[^}]*tenant="other"[^}]*\} 60/);
    expect(text.length).toBeLessThan(64 * 1024);
  });

  it('gives every tenant the operator named a label of its own, however many are named', async () => {
    const named = Array.from({ length: 60 }, (_, i) => `tenant-${i}`);
    const config = parseServeConfig(
      ['--port', '0', '--metrics', '--max-sessions', '100', '--metrics-tenants', named.join(',')],
      { AUTH_TOKENS: TOKENS },
    );
    running = await serve(config, { version: 'test', logStream: new LogLines() });
    const taken = await Promise.all(
      named.map((tenantId) =>
        fetch(`${running!.url}/v1/slots`, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            authorization: `Bearer ${OPERATOR_TOKEN}`,
          },
          body: JSON.stringify({ tenantId }),
        }),
      ),
    );
    expect(taken.map((r) => r.status)).toEqual(Array(60).fill(201));
    const text = await (await fetch(running.metricsUrl!)).text();
    expect(tenantLabels(text)).toEqual(new Set(named));
  });

  it('serves /metrics on a port of its own with --metrics-port, and not on the API port', async () => {
    const config = parseServeConfig(['--port', '0', '--metrics-port', '0'], {});
    running = await serve(config, { version: 'test', logStream: new LogLines() });
    expect(new URL(running.metricsUrl!).port).not.toBe(new URL(running.url).port);
    const metrics = await fetch(running.metricsUrl!);
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toContain('voice_backend_capacity_limit');
    expect((await fetch(`${running.url}/metrics`)).status).toBe(404);
  });

  it('answers HEAD on the metrics port as GET without the body, as the API port does', async () => {
    const config = parseServeConfig(['--port', '0', '--metrics-port', '0'], {});
    running = await serve(config, { version: 'test', logStream: new LogLines() });
    const ops = new URL(running.metricsUrl!).origin;
    const api = running.url;
    for (const url of [`${ops}/healthz`, `${ops}/readyz`, `${ops}/metrics`, `${api}/healthz`]) {
      const head = await fetch(url, { method: 'HEAD' });
      expect([url, head.status]).toEqual([url, (await fetch(url)).status]);
      expect(await head.text()).toBe('');
    }
    const post = await fetch(`${ops}/healthz`, { method: 'POST' });
    expect(post.status).toBe(405);
    expect(post.headers.get('allow')).toBe('GET, HEAD');
  });

  it('with no tenant named, the first ones seen get labels, never more than the limit nor longer than the bound', () => {
    const labels = new TenantLabels(3);
    expect(labels.label('x'.repeat(MAX_TENANT_LABEL_LENGTH + 1))).toBe('other');
    expect(['a', 'b', 'c', 'd'].map((t) => labels.label(t))).toEqual(['a', 'b', 'c', 'other']);
    expect(labels.label('a')).toBe('a');
    const named = new TenantLabels(2, ['acme', 'globex', 'initech']);
    expect(['acme', 'globex', 'initech', 'junk'].map((t) => named.label(t))).toEqual([
      'acme',
      'globex',
      'other',
      'other',
    ]);
  });
});
