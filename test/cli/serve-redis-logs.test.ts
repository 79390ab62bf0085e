import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type RunningGateway, serve } from '../../src/cli/serve.js';
import { parseServeConfig } from '../../src/cli/serve-config.js';
import { freePort } from '../support/free-port.js';
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
