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

  it('refuses --metrics naming the packages to install', async () => {
    const failed = await run(process.execPath, node(['serve', '--metrics', '--port', '0']), {
      env,
    }).catch((error: { code: number; stderr: string }) => error);
    expect(failed).toMatchObject({ code: 1 });
    const lines = (failed as { stderr: string }).stderr.trimEnd().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(
      'npm install @opentelemetry/sdk-metrics @opentelemetry/exporter-prometheus @opentelemetry/resources',
    );
  });

  it('prints its help and version', async () => {
    expect((await run(process.execPath, node(['--help']), { env })).stdout).toContain(
      'voice-admission <command>',
    );
    expect((await run(process.execPath, node(['--version']), { env })).stdout).toMatch(/^\d+\.\d+/);
  });
});
