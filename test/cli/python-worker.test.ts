import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ACME_TOKEN, startGateway, TOKENS } from './gateway-harness.js';

const run = promisify(execFile);

/** The first Python block of docs/gateway.md: the slot client workers copy. */
function documentedClient(): string {
  const markdown = readFileSync(new URL('../../docs/gateway.md', import.meta.url), 'utf8');
  const block = /```python\n([\s\S]*?)```/.exec(markdown)?.[1];
  if (block === undefined) throw new Error('docs/gateway.md has no python block');
  return block;
}

describe('a Python agent worker (standard library only) against a real gateway', () => {
  it('takes a slot per job, is refused a job another worker holds, keeps it by renewing, releases it', async () => {
    const { url, admission } = await startGateway({
      tokens: TOKENS,
      admission: { maxConcurrentSessions: 2, queue: { maxSize: 0 } },
    });
    const dir = mkdtempSync(join(tmpdir(), 'slot-client-'));
    writeFileSync(join(dir, 'admission_slots.py'), documentedClient());
    const script = new URL('./python/slot_flow.py', import.meta.url).pathname;
    // Only the standard library and the documented client are importable.
    const { stdout } = await run('python3', ['-s', script, url, ACME_TOKEN], {
      env: { PATH: process.env.PATH ?? '', PYTHONPATH: dir },
    });
    const steps = JSON.parse(stdout) as Record<string, unknown>;
    expect(steps).toMatchObject({
      same_job_elsewhere: { status: 409, code: 'duplicate', retry_after: null },
      renewals: 4,
      lost: false,
      still_held_after_lease: { status: 409, code: 'duplicate' },
      refused_renewals: 0,
      when_full: { status: 429, code: 'capacity' },
      after_release: { status: 201 },
    });
    expect((steps.when_full as { retry_after: number }).retry_after).toBeGreaterThanOrEqual(1);
    expect(admission.stats().active).toBe(0);
  }, 60_000);
});
