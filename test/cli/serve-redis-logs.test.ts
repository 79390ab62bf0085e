import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type RunningGateway, serve } from '../../src/cli/serve.js';
import { parseServeConfig } from '../../src/cli/serve-config.js';
import { describeWithBinary } from '../support/binaries.js';
import { freePort } from '../support/free-port.js';
import { type RedisServer, startRedis } from '../support/redis-server.js';
import { LogLines } from './gateway-harness.js';

let running: RunningGateway | undefined;
let warnings: Error[] = [];
const onWarning = (warning: Error) => warnings.push(warning);
beforeEach(() => {
  warnings = [];
  process.on('warning', onWarning);
});
afterEach(async () => {
  process.off('warning', onWarning);
  await running?.close();
  running = undefined;
});

/** A gateway whose Redis store cannot connect: nothing listens on its port. */
async function serveWithUnreachableRedis(): Promise<LogLines> {
  const port = await freePort();
  const logs = new LogLines();
  running = await serve(
    parseServeConfig(['--port', '0', '--redis-url', `redis://127.0.0.1:${port}`], {}),
    { version: 'test', logStream: logs },
  );
  return logs;
}

describe('serve with a Redis store', () => {
  it('logs what the store reports as JSON lines, not as process warnings on stderr', async () => {
    const logs = await serveWithUnreachableRedis();
    await logs.seen((line) => line.msg === 'redis store error');
    const line = logs.lines.find((l) => l.msg === 'redis store error')!;
    expect(line).toMatchObject({ level: 'error', operation: 'connection' });
    expect(JSON.stringify(line.err)).toContain('ECONNREFUSED');
    expect(warnings.filter((w) => w.name === 'VoiceAdmissionRedisWarning')).toEqual([]);
  });

  it('logs a request the store could not serve as a JSON line, not as a process warning', async () => {
    const logs = await serveWithUnreachableRedis();
    await expect(running!.admission.createSession({ userId: 'u' })).rejects.toMatchObject({
      code: 'store_unavailable',
    });
    const line = logs.lines.find((l) => l.msg === 'redis store error' && l.operation === 'acquire');
    expect(line).toMatchObject({ level: 'error', err: { type: 'RedisUnavailableError' } });
    expect(warnings.map((w) => w.name)).toEqual([]);
  });
});

describeWithBinary('redis-server', 'serve with a Redis store that goes away', () => {
  let server: RedisServer | undefined;
  afterEach(async () => {
    await server?.stop();
    server = undefined;
  });

  /** The answer to `/readyz`: its status and body. */
  const readiness = async () => {
    const response = await fetch(`${running!.url}/readyz`);
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };
  /** A gateway on a Redis of its own, that has taken and released a slot there. */
  const serveOnItsOwnRedis = async () => {
    server = await startRedis();
    server.seedLimiter('voice');
    running = await serve(
      parseServeConfig(['--port', '0', '--redis-url', server.url, '--redis-name', 'voice'], {}),
      { version: 'test', logStream: new LogLines() },
    );
    await running.admission.acquire().then((slot) => slot.release());
    return { redis: server, gateway: running };
  };
  /** Polls `/readyz` until its status is `status`; returns that answer. */
  const readinessBecomes = async (status: number) => {
    for (;;) {
      const answer = await readiness();
      if (answer.status === status) return answer;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };

  it('readyz answers 503 naming the store while Redis is down, and 200 again once it is back', async () => {
    const { redis, gateway } = await serveOnItsOwnRedis();
    expect(await readiness()).toMatchObject({
      status: 200,
      body: { ready: true, store: 'available' },
    });

    await redis.kill();
    const down = await readinessBecomes(503);
    expect(down.body).toMatchObject({ ready: false, state: 'open', store: 'unavailable' });
    await expect(gateway.admission.acquire()).rejects.toMatchObject({ code: 'store_unavailable' });

    // Back without any request to the store: the gateway finds out on its own.
    await redis.restart();
    const back = await readinessBecomes(200);
    expect(back.body).toMatchObject({ ready: true, store: 'available' });
  });

  it('readyz stays 503 while Redis answers but refuses writes, and turns 200 once it takes them', async () => {
    const { redis, gateway } = await serveOnItsOwnRedis();

    // A replica of a master that is not there: reads are answered, writes refused (READONLY).
    await redis.cli('REPLICAOF', '127.0.0.1', String(await freePort()));
    await expect(gateway.admission.acquire()).rejects.toMatchObject({ code: 'store_unavailable' });
    // The store reconnects on READONLY, and answers to calls that write nothing come back.
    const until = performance.now() + 1_500;
    while (performance.now() < until) {
      expect(await readiness()).toMatchObject({ status: 503, body: { store: 'unavailable' } });
      await new Promise((resolve) => setTimeout(resolve, 50));
    }

    await redis.cli('REPLICAOF', 'NO', 'ONE');
    const back = await readinessBecomes(200);
    expect(back.body).toMatchObject({ ready: true, store: 'available' });
  });
});
