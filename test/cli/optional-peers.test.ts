import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { exitCode } from './gateway-harness.js';

const run = promisify(execFile);
const cli = new URL('../../src/cli/main.ts', import.meta.url).pathname;
/** Makes the optional peer packages unresolvable, as after a plain `npm install`. */
const withoutPeers = new URL('./support/without-optional-peers.mjs', import.meta.url).pathname;
const node = (args: string[]) => ['--import', 'tsx', '--import', withoutPeers, cli, ...args];
const env = { PATH: process.env.PATH ?? '' };

describe('the CLI with only the declared dependencies installed', () => {
  it('cannot load an optional peer here (the check itself works)', async () => {
    const probe = await run(process.execPath, [
      '--import',
      withoutPeers,
      '--input-type=module',
      '-e',
      "import('@opentelemetry/exporter-prometheus').then(() => console.log('loaded'), (e) => console.log(e.code))",
    ]);
    expect(probe.stdout.trim()).toBe('ERR_MODULE_NOT_FOUND');
  });

  it('serves sessions on the simulated backend, then drains on SIGTERM', async () => {
    const child = spawn(
      process.execPath,
      node(['serve', '--port', '0', '--drain-timeout-ms', '0']),
      {
        stdio: ['ignore', 'pipe', 'pipe'],
        env,
      },
    );
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const url = await new Promise<string>((resolve, reject) => {
      child.stdout.on('data', (chunk: Buffer) => {
        for (const line of chunk.toString().split('\n')) {
          if (line.includes('"listening"')) resolve((JSON.parse(line) as { url: string }).url);
        }
      });
      child.once('exit', (code) => reject(new Error(`serve exited with ${code}: ${stderr}`)));
    });
    const created = await fetch(`${url}/v1/sessions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"userId":"u"}',
    });
    expect(created.status).toBe(201);
    child.kill('SIGTERM');
    expect(await exitCode(child)).toBe(0);
    expect(stderr).toBe('');
  }, 60_000);

  /** `serve` run to its exit, killed if it listens instead (a refusal exits at once). */
  async function refusal(args: string[], extraEnv: Record<string, string> = {}) {
    const failed = await run(process.execPath, node(['serve', '--port', '0', ...args]), {
      env: { ...env, ...extraEnv },
      timeout: 10_000,
    }).catch((error: { code: number; stdout: string; stderr: string }) => error);
    const { code, stdout, stderr } = failed as { code: number; stdout: string; stderr: string };
    return { code, stdout, lines: stderr.trimEnd().split('\n') };
  }

  it('refuses --metrics naming the packages to install', async () => {
    const { code, lines } = await refusal(['--metrics']);
    expect(code).toBe(1);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(
      'npm install @opentelemetry/sdk-metrics @opentelemetry/exporter-prometheus @opentelemetry/resources',
    );
  });

  it('refuses a Redis store, by --redis-url or REDIS_URL, naming ioredis, before it listens', async () => {
    for (const [args, extraEnv] of [
      [['--redis-url', 'redis://127.0.0.1:1'], {}],
      [[], { REDIS_URL: 'redis://127.0.0.1:1' }],
    ] as const) {
      const { code, stdout, lines } = await refusal([...args], extraEnv);
      expect({ args, extraEnv, code, stdout, lines }).toEqual({
        args,
        extraEnv,
        code: 1,
        stdout: '',
        lines: ['voice-admission: redisStore() needs ioredis: npm install ioredis (missing_peer)'],
      });
    }
  });

  it('prints its help and version', async () => {
    expect((await run(process.execPath, node(['--help']), { env })).stdout).toContain(
      'voice-admission <command>',
    );
    expect((await run(process.execPath, node(['--version']), { env })).stdout).toMatch(/^\d+\.\d+/);
  });
});
