import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { onCleanup } from './fixture.js';

const scenario = fileURLToPath(
  new URL('../../support/children/livekit-secret-scenario.ts', import.meta.url),
);

describe('LiveKit provider: secrets stay out of outputs', () => {
  it('no API secret or token in any error, log line, event, health reason or span; the process exits by itself', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'va-secrets-'));
    onCleanup(() => rmSync(dir, { recursive: true, force: true }));
    const secret = `scenario-secret-${randomBytes(16).toString('hex')}`;
    const tokensFile = join(dir, 'tokens.json');

    const child = spawn(process.execPath, ['--import', 'tsx', scenario], {
      env: { ...process.env, SCENARIO_SECRET: secret, TOKENS_FILE: tokensFile },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
    });
    child.stderr.on('data', (chunk: Buffer) => {
      output += chunk.toString('utf8');
    });
    // Resolves only if the child exits on its own: nothing may keep it alive after stop().
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));

    expect(code, output).toBe(0);
    expect(output).toContain('scenario done');
    // The scenario really went through the failures it is meant to show. (Not rtc-node's own
    // log lines: its native runtime hands them over asynchronously, so whether one is printed
    // before the process exits is not the scenario's to decide; any that is printed is
    // searched for secrets below like the rest.)
    for (const marker of [
      'webhook refused: forged',
      'webhook refused: tampered',
      'webhook refused: stale',
      "code: 'resource_exhausted'",
      "code: 'timeout'",
      "code: 'unauthenticated'",
      'joining the LiveKit room failed',
      'span.end',
      'GET / failed: server unreachable',
      'apiSecret: must be a non-empty string, got a number',
    ]) {
      expect(output, marker).toContain(marker);
    }

    const tokens = JSON.parse(readFileSync(tokensFile, 'utf8')) as string[];
    expect(tokens.length).toBeGreaterThan(0);
    expect(output).not.toContain(secret);
    for (const token of tokens) {
      const signature = token.split('.')[2]!;
      expect(output).not.toContain(token);
      expect(output).not.toContain(signature);
    }
  });
});
