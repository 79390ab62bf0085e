import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { formatBurstReport, parseBurstConfig, runBurst } from '../../src/cli/burst.js';

const run = promisify(execFile);
const cli = new URL('../../src/cli/main.ts', import.meta.url).pathname;

/** `voice-admission serve` in a child process; resolves once it listens. */
async function startServe(
  args: string[],
): Promise<{ child: ChildProcess; url: string; lines: string[] }> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', cli, 'serve', '--port', '0', '--host', '127.0.0.1', ...args],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const lines: string[] = [];
  const url = await new Promise<string>((resolve, reject) => {
    let buffered = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const parts = buffered.split('\n');
      buffered = parts.pop()!;
      for (const line of parts) {
        lines.push(line);
        const event = JSON.parse(line) as { event: string; url?: string };
        if (event.event === 'listening') resolve(event.url!);
      }
    });
    child.once('exit', (code) => reject(new Error(`serve exited with ${code}`)));
  });
  return { child, url, lines };
}

const createSession = (url: string, userId: string) =>
  fetch(`${url}/v1/sessions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ userId }),
  });

describe('voice-admission serve', () => {
  it('drains on SIGTERM with sessions open: not ready, refuses new ones, closes the rest at the deadline, exits 0', async () => {
    const { child, url, lines } = await startServe([
      '--max-sessions',
      '5',
      '--drain-timeout-ms',
      '1500',
    ]);
    for (const user of ['a', 'b', 'c']) expect((await createSession(url, user)).status).toBe(201);
    child.kill('SIGTERM');
    // During the drain the process still answers, but is not ready and admits no one.
    let readyz = 200;
    for (let i = 0; i < 50 && readyz === 200; i++) readyz = (await fetch(`${url}/readyz`)).status;
    expect(readyz).toBe(503);
    const refused = await createSession(url, 'late');
    expect(refused.status).toBe(503);
    expect(await refused.json()).toMatchObject({ error: { code: 'draining' } });
    const [code] = await once(child, 'exit');
    expect(code).toBe(0);
    const drained = lines
      .map((line) => JSON.parse(line) as Record<string, unknown>)
      .find((e) => e.event === 'drained');
    expect(drained).toMatchObject({
      timedOut: true,
      activeAtStart: 3,
      closedAtDeadline: 3,
      stillActive: 0,
    });
  }, 60_000);

  it('refuses bad flags with a message naming them', async () => {
    const failed = await run(process.execPath, [
      '--import',
      'tsx',
      cli,
      'serve',
      '--max-sessions',
      'lots',
    ]).catch((error: { code: number; stderr: string }) => error);
    expect(failed).toMatchObject({ code: 2 });
    expect((failed as { stderr: string }).stderr).toContain(
      '--max-sessions: must be an integer >= 1, got "lots"',
    );
  });
});

describe('voice-admission burst against the gateway', () => {
  it('reports status codes, refusals by reason and latency percentiles', async () => {
    const { child, url } = await startServe([
      '--max-sessions',
      '5',
      '--queue-size',
      '0',
      '--drain-timeout-ms',
      '100',
    ]);
    try {
      const { stdout } = await run(process.execPath, [
        '--import',
        'tsx',
        cli,
        'burst',
        '--url',
        url,
        '--n',
        '20',
        '--concurrency',
        '20',
        '--tenants',
        'a,b',
      ]);
      expect(stdout).toMatch(/sessions created\s+5/);
      expect(stdout).toMatch(/status codes\s+201 5, 429 15/);
      expect(stdout).toMatch(/refusals by reason\s+capacity 15/);
      expect(stdout).toMatch(/latency p50 \/ p90 \/ p99\s+\S+/);
    } finally {
      child.kill('SIGINT');
      await once(child, 'exit');
    }
  }, 60_000);

  it('paces requests with --rate and closes sessions after --hold-ms, so all fit under the cap', async () => {
    const { child, url } = await startServe([
      '--max-sessions',
      '1',
      '--queue-size',
      '0',
      '--drain-timeout-ms',
      '100',
    ]);
    try {
      // One every 300 ms; each takes the simulated ~120 ms to set up and is closed 10 ms later:
      // one slot is enough for all.
      const report = await runBurst(
        parseBurstConfig(['--url', url, '--n', '6', '--rate', '3.33', '--hold-ms', '10']),
      );
      expect(report.statuses).toEqual({ '201': 6 });
      expect(report.created).toBe(6);
      expect(formatBurstReport(report)).toContain('requests');
      const ready = (await (await fetch(`${url}/readyz`)).json()) as { active: number };
      expect(ready.active).toBe(0);
    } finally {
      child.kill('SIGINT');
      await once(child, 'exit');
    }
  }, 60_000);

  it('validates its flags', () => {
    expect(() => parseBurstConfig([])).toThrow(/--url: is required/);
    expect(() =>
      parseBurstConfig(['--url', 'http://x', '--rate', '5', '--concurrency', '2']),
    ).toThrow(/cannot be used together/);
    expect(() => parseBurstConfig(['--url', 'http://x', '--n', '0'])).toThrow(
      /--n: must be a number >= 1/,
    );
  });
});
