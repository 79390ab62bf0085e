import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const child = fileURLToPath(new URL('../../support/children/lazy-livekit.ts', import.meta.url));

describe('LiveKit provider loading', () => {
  it('loads livekit-server-sdk only when a livekit backend is created, and never rtc-node in dispatch mode', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', child]);
    expect(stdout.trim().split('\n')).toEqual([
      'simulated used',
      'loaded livekit-server-sdk',
      'livekit created',
    ]);
  });
});
