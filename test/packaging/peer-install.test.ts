import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const manifest = JSON.parse(
  readFileSync(new URL('../../package.json', import.meta.url), 'utf8'),
) as Record<string, unknown> & { name: string; version: string };

const work = mkdtempSync(join(tmpdir(), 'va-peer-install-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/**
 * Packs a package carrying this package's real dependency metadata (name, version,
 * dependencies, peer dependencies), with `peerRange` for @livekit/rtc-node when given.
 */
async function packThisPackage(dir: string, peerRange?: string): Promise<string> {
  mkdirSync(dir, { recursive: true });
  const peerDependencies = { ...(manifest.peerDependencies as Record<string, string>) };
  if (peerRange !== undefined) peerDependencies['@livekit/rtc-node'] = peerRange;
  const { name, version, dependencies, peerDependenciesMeta } = manifest;
  writeFileSync(
    join(dir, 'package.json'),
    JSON.stringify({ name, version, dependencies, peerDependencies, peerDependenciesMeta }),
  );
  const { stdout } = await run('npm', ['pack', '--silent', '--ignore-scripts'], { cwd: dir });
  return join(dir, stdout.trim());
}

/** Resolves an app depending on `tarball` and @livekit/agents 1.9 with npm's real resolver. */
async function resolveApp(dir: string, tarball: string): Promise<Record<string, unknown>> {
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'package.json'),
    JSON.stringify({
      name: 'app',
      version: '1.0.0',
      private: true,
      dependencies: { [manifest.name]: `file:${tarball}`, '@livekit/agents': '~1.9.0' },
    }),
  );
  // --package-lock-only resolves the whole tree (peers included) without downloading tarballs.
  await run(
    'npm',
    ['install', '--package-lock-only', '--ignore-scripts', '--no-audit', '--no-fund'],
    { cwd: dir },
  );
  return JSON.parse(readFileSync(join(dir, 'package-lock.json'), 'utf8')).packages as Record<
    string,
    unknown
  >;
}

describe('installing beside @livekit/agents', () => {
  it('an app with this package and @livekit/agents 1.9 resolves without --force, sharing one @livekit/rtc-node', async () => {
    const tarball = await packThisPackage(join(work, 'real'));
    const packages = await resolveApp(join(work, 'app'), tarball);
    const rtc = Object.entries(packages).filter(([path]) =>
      path.endsWith('node_modules/@livekit/rtc-node'),
    );
    expect(rtc).toHaveLength(1);
    expect((rtc[0]![1] as { version: string }).version).toMatch(/^0\.13\./);
  }, 120_000);

  it('the check has teeth: a peer range agents cannot meet fails with ERESOLVE', async () => {
    const tarball = await packThisPackage(join(work, 'conflicting'), '^1.0.0');
    const failure = await resolveApp(join(work, 'app-conflict'), tarball).catch(
      (error: unknown) => error as { stderr?: string },
    );
    expect((failure as { stderr?: string }).stderr).toContain('ERESOLVE');
  }, 120_000);
});
