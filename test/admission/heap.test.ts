import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const script = new URL('../support/children/heap-per-session.ts', import.meta.url).pathname;

async function bytesPerSession(mode: 'plain' | 'smoothing'): Promise<number> {
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--expose-gc', '--import', 'tsx', script, '20000', mode],
    { timeout: 120_000 },
  );
  return (JSON.parse(stdout) as { bytesPerSession: number }).bytesPerSession;
}

describe('heap per finished session', () => {
  // AbortSignal.any() on the session path kept ~57 B per session on Node 20 (nodejs/node#55351).
  // Collection noise over 80,000 sessions is well under a byte each.
  it.each(['plain', 'smoothing'] as const)(
    'stays flat over 80,000 create+close cycles sharing one caller signal (%s)',
    async (mode) => {
      expect(await bytesPerSession(mode)).toBeLessThan(8);
    },
    120_000,
  );
});
