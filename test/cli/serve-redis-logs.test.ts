import { afterEach, describe, expect, it } from 'vitest';
import { type RunningGateway, serve } from '../../src/cli/serve.js';
import { parseServeConfig } from '../../src/cli/serve-config.js';
import { freePort } from '../support/redis-server.js';
import { LogLines } from './gateway-harness.js';

let running: RunningGateway | undefined;
afterEach(async () => {
  await running?.close();
  running = undefined;
});

describe('serve with a Redis store', () => {
  it('logs what the store reports as JSON lines, not as process warnings on stderr', async () => {
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on('warning', onWarning);
    try {
      const port = await freePort(); // nothing listens there: the connection fails
      const logs = new LogLines();
      running = await serve(
        parseServeConfig(['--port', '0', '--redis-url', `redis://127.0.0.1:${port}`], {}),
        { version: 'test', logStream: logs },
      );
      await logs.seen((line) => line.msg === 'redis store error');
      const line = logs.lines.find((l) => l.msg === 'redis store error')!;
      expect(line).toMatchObject({ level: 'error', operation: 'connection' });
      expect(JSON.stringify(line.err)).toContain('ECONNREFUSED');
      expect(warnings.filter((w) => w.name === 'VoiceAdmissionRedisWarning')).toEqual([]);
    } finally {
      process.off('warning', onWarning);
    }
  });
});
