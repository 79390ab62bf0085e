import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = new URL('../../', import.meta.url).pathname;

/** Runs a snippet in a fresh Node process from the package root (so 'voice-admission' resolves to it). */
async function node(args: string[]): Promise<string> {
  const { stdout } = await run(process.execPath, args, { cwd: root, timeout: 60_000 });
  return stdout.trim();
}

const FLOW = `
  const backend = await createBackend('simulated', { providerConfig: { setupLatencyMs: 1 } });
  await backend.start();
  const session = await createSessionWithLimit(backend, { userId: 'u' }, 1);
  const refused = await createSessionWithLimit(backend, { userId: 'v' }, 1).catch((e) => e);
  await session.close();
  await backend.stop();
  console.log(JSON.stringify({ room: session.connection.roomName.startsWith('sim-'), code: refused.code, isError: refused instanceof AdmissionError }));
`;

describe('the built package', () => {
  beforeAll(async () => {
    await run('npm', ['run', 'build', '--silent'], { cwd: root, timeout: 120_000 });
  }, 120_000);

  it('ships ESM and CommonJS entry points with type declarations', () => {
    for (const file of [
      'dist/index.js',
      'dist/index.cjs',
      'dist/index.d.ts',
      'dist/index.d.cts',
      'dist/cli/main.js',
    ]) {
      expect(existsSync(`${root}${file}`), file).toBe(true);
    }
  });

  it('works through import', async () => {
    const out = await node([
      '--input-type=module',
      '-e',
      `import { createBackend, createSessionWithLimit, AdmissionError } from 'voice-admission';\n${FLOW}`,
    ]);
    expect(JSON.parse(out)).toEqual({ room: true, code: 'capacity', isError: true });
  });

  it('works through require', async () => {
    const out = await node([
      '-e',
      `const { createBackend, createSessionWithLimit, AdmissionError } = require('voice-admission');\n(async () => {${FLOW}})();`,
    ]);
    expect(JSON.parse(out)).toEqual({ room: true, code: 'capacity', isError: true });
  });

  it('creates a livekit backend, loaded on demand, through import and require', async () => {
    const config = `{ providerConfig: { url: 'ws://127.0.0.1:7880', apiKey: 'k', apiSecret: 's' } }`;
    const esm = await node([
      '--input-type=module',
      '-e',
      `import { createBackend } from 'voice-admission';\nconst b = await createBackend('livekit', ${config});\nconsole.log(b.provider, typeof b.webhookHandler);`,
    ]);
    const cjs = await node([
      '-e',
      `require('voice-admission').createBackend('livekit', ${config}).then((b) => console.log(b.provider, typeof b.webhookHandler));`,
    ]);
    expect([esm, cjs]).toEqual(['livekit function', 'livekit function']);
  });

  it('exposes the telemetry and LiveKit agents subpaths to both module systems', async () => {
    const esm = await node([
      '--input-type=module',
      '-e',
      `const t = await import('voice-admission/telemetry'); const a = await import('voice-admission/livekit-agents');
       console.log(JSON.stringify([typeof t.startPrometheus, typeof t.setupTracing, typeof a.admitAgentJobs]));`,
    ]);
    expect(JSON.parse(esm)).toEqual(['function', 'function', 'function']);
    const cjs = await node([
      '-e',
      `const t = require('voice-admission/telemetry'); const a = require('voice-admission/livekit-agents');
       console.log(JSON.stringify([typeof t.startPrometheus, typeof t.setupTracing, typeof a.admitAgentJobs]));`,
    ]);
    expect(JSON.parse(cjs)).toEqual(['function', 'function', 'function']);
    for (const file of [
      'dist/telemetry.d.ts',
      'dist/telemetry.d.cts',
      'dist/livekit-agents.d.ts',
      'dist/livekit-agents.d.cts',
    ]) {
      expect(existsSync(`${root}${file}`), file).toBe(true);
    }
  });

  it('has a voice-admission command whose demo runs', async () => {
    expect(await node(['dist/cli/main.js', '--help'])).toContain('voice-admission <command>');
    const demo = await node(['dist/cli/main.js', 'demo', '--requests', '40']);
    expect(demo).toMatch(/no admission\s+40/);
    expect(demo).toMatch(/Admission\s+40/);
  });
});
