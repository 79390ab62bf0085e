import { afterEach, describe, expect, it } from 'vitest';
import { type RunningGateway, serve } from '../../src/cli/serve.js';
import { parseServeConfig } from '../../src/cli/serve-config.js';
import { ACME_TOKEN, GLOBEX_TOKEN, LogLines, startGateway, TOKENS } from './gateway-harness.js';
import { rawClient } from './support/raw-client.js';

interface ErrorBody {
  readonly error: { readonly code: string; readonly tenantId?: string };
}

let running: RunningGateway | undefined;
afterEach(async () => {
  await running?.close();
  running = undefined;
});

async function start(args: string[], env: Record<string, string> = {}) {
  const logs = new LogLines();
  running = await serve(
    parseServeConfig(['--port', '0', ...args], { AUTH_TOKENS: TOKENS, ...env }),
    {
      version: 'test',
      logStream: logs,
    },
  );
  const slot = (token: string, body: object) =>
    fetch(`${running!.url}/v1/slots`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify(body),
    });
  return { gateway: running, logs, slot };
}

describe('--queue-per-tenant', () => {
  it("keeps one tenant's waiters from filling the queue other tenants wait in", async () => {
    const { gateway, slot } = await start([
      '--max-sessions',
      '1',
      '--queue-size',
      '4',
      '--queue-per-tenant',
      '2',
    ]);
    const held = await slot(ACME_TOKEN, {});
    expect(held.status).toBe(201);
    // acme asks for more than its share of the queue: the requests past it are refused at once.
    const waiting = [1, 2, 3, 4].map(async () => {
      const response = await slot(ACME_TOKEN, { timeoutMs: 1_000 });
      return ((await response.json()) as ErrorBody).error;
    });
    expect(await Promise.race(waiting)).toMatchObject({ code: 'queue_full', tenantId: 'acme' });
    expect(gateway.admission.stats().queued).toBe(2);
    // globex still finds room in the queue, and gets the slot once acme gives it back.
    const globex = slot(GLOBEX_TOKEN, { timeoutMs: 2_000 });
    await expect.poll(() => gateway.admission.stats().queued).toBe(3);
    const { id } = (await held.json()) as { id: string };
    await fetch(`${gateway.url}/v1/slots/${id}`, {
      method: 'DELETE',
      headers: { authorization: `Bearer ${ACME_TOKEN}` },
    });
    expect((await globex).status).toBe(201);
    // acme's two waiters ran out of time behind globex; the other two never waited.
    const codes = (await Promise.all(waiting)).map((error) => error.code).sort();
    expect(codes).toEqual(['queue_full', 'queue_full', 'queue_timeout', 'queue_timeout']);
  });

  it('is read from QUEUE_MAX_PER_TENANT, and may not exceed the queue', () => {
    expect(parseServeConfig([], { QUEUE_MAX_PER_TENANT: '0' }).queuePerTenant).toBe(0);
    expect(parseServeConfig([], {}).queuePerTenant).toBeUndefined();
    expect(() => parseServeConfig(['--queue-size', '10', '--queue-per-tenant', '11'], {})).toThrow(
      '--queue-per-tenant: must be an integer from 0 to 10, got "11"',
    );
  });
});

describe('--max-connections', () => {
  it('closes connections over the limit as they come, says so in the log, and takes them again once some close', async () => {
    const { gateway, logs } = await start(['--max-connections', '2']);
    const first = await rawClient(gateway.url, '');
    const second = await rawClient(gateway.url, '');
    const third = await rawClient(gateway.url, '');
    expect(await third.closed).toBe('');
    await logs.seen((line) => line.msg === 'connections closed: too many open');
    expect(
      logs.lines.find((line) => line.msg === 'connections closed: too many open'),
    ).toMatchObject({ level: 'warn', dropped: 1, maxConnections: 2 });
    await expect(fetch(`${gateway.url}/healthz`)).rejects.toThrow();
    // The next ones within 10 s are counted in a later line, not each logged.
    await (await rawClient(gateway.url, '')).closed;
    expect(
      logs.lines.filter((line) => line.msg === 'connections closed: too many open'),
    ).toHaveLength(1);

    first.socket.destroy();
    await first.closed;
    await expect
      .poll(async () => (await fetch(`${gateway.url}/healthz`).catch(() => undefined))?.status)
      .toBe(200);
    second.socket.destroy();
  });

  it('counts every closed connection in a log line soon after, without a line per connection', async () => {
    const { url, app, logs } = await startGateway({ maxConnections: 2, dropsLogIntervalMs: 200 });
    const held = [await rawClient(url, ''), await rawClient(url, '')];
    const logged = () =>
      logs.lines
        .filter((line) => line.msg === 'connections closed: too many open')
        .map((line) => line.dropped as number);
    const sum = () => logged().reduce((total, dropped) => total + dropped, 0);
    const burst = async (count: number) => {
      const clients = await Promise.all(Array.from({ length: count }, () => rawClient(url, '')));
      await Promise.all(clients.map((client) => client.closed));
    };
    await burst(20);
    // The first at once, the rest in the summary at the end of the interval.
    await expect.poll(sum).toBe(20);
    await burst(15);
    await expect.poll(sum).toBe(35);
    // A burst the gateway closes within is counted by the line written as it closes.
    await burst(7);
    for (const client of held) client.socket.destroy();
    await app.close();
    expect(sum()).toBe(42);
    expect(logged().length).toBeLessThanOrEqual(6);
  });

  it('leaves /healthz and /readyz on --metrics-port answering while the API port is flooded', async () => {
    const { gateway } = await start(['--max-connections', '5', '--metrics-port', '0']);
    const flood = await Promise.all(Array.from({ length: 10 }, () => rawClient(gateway.url, '')));
    await expect(fetch(`${gateway.url}/healthz`)).rejects.toThrow();
    const probe = async (path: string) => {
      const response = await fetch(new URL(path, gateway.metricsUrl));
      return { status: response.status, body: await response.text() };
    };
    expect(await probe('/healthz')).toEqual({ status: 200, body: '{"status":"alive"}' });
    expect(JSON.parse((await probe('/readyz')).body)).toMatchObject({ ready: true, active: 0 });
    expect((await probe('/metrics')).status).toBe(200);
    expect(await probe('/v1/slots')).toEqual({
      status: 404,
      body: '{"error":{"code":"not_found","message":"no such route"}}',
    });
    // Draining, readiness says so there too.
    const drained = gateway.admission.drain({ timeoutMs: 0 });
    expect((await probe('/readyz')).status).toBe(503);
    await drained;
    for (const client of flood) client.socket.destroy();
  });

  it('is 4096 unless set, by flag or MAX_CONNECTIONS', () => {
    expect(parseServeConfig([], {}).maxConnections).toBe(4_096);
    expect(parseServeConfig([], { MAX_CONNECTIONS: '10' }).maxConnections).toBe(10);
    expect(() => parseServeConfig(['--max-connections', '0'], {})).toThrow(
      '--max-connections: must be an integer >= 1, got "0"',
    );
  });
});

describe('--keep-alive-timeout-ms', () => {
  it('keeps idle connections open as long as set, and says so in every answer', async () => {
    const { gateway } = await start(['--keep-alive-timeout-ms', '600000']);
    const client = await rawClient(gateway.url, 'GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    await expect.poll(() => client.received()).toMatch(/\r\n\r\n\{"status":"alive"\}$/);
    client.socket.destroy();
    expect(client.received()).toMatch(/\r\nKeep-Alive: timeout=600\r\n/i);
  });

  it('is 72 s unless set, by flag or KEEP_ALIVE_TIMEOUT_MS', () => {
    expect(parseServeConfig([], {}).keepAliveTimeoutMs).toBe(72_000);
    expect(parseServeConfig([], { KEEP_ALIVE_TIMEOUT_MS: '620000' }).keepAliveTimeoutMs).toBe(
      620_000,
    );
    expect(() => parseServeConfig([], { KEEP_ALIVE_TIMEOUT_MS: '0' })).toThrow(
      /^KEEP_ALIVE_TIMEOUT_MS: must be an integer from 1 to \d+, got "0"$/,
    );
  });
});
