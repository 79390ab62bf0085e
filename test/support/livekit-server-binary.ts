/**
 * The LiveKit server the integration tests run: livekit-server at a pinned version, built from
 * its Go module into `.cache/livekit/<version>/` (git-ignored) once and reused.
 *
 * Run directly (`npm run livekit-server`) it builds the binary when missing or of another
 * version and prints its path. Tests call `liveKitServerBinary()`, which never builds.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The pinned server version (Go module github.com/livekit/livekit-server). */
export const LIVEKIT_SERVER_VERSION = '1.13.5';

/** Overrides where the binary is looked for (a server built elsewhere, same version). */
export const LIVEKIT_SERVER_BIN_ENV = 'LIVEKIT_SERVER_BIN';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const buildDir = join(repoRoot, '.cache', 'livekit', LIVEKIT_SERVER_VERSION);

/** Where the binary is: `$LIVEKIT_SERVER_BIN`, or the project's build. */
export function liveKitServerPath(): string {
  return process.env[LIVEKIT_SERVER_BIN_ENV] || join(buildDir, 'server');
}

/** The version a binary reports (`livekit-server version 1.13.5`), or undefined if it cannot run. */
function versionOf(binary: string): string | undefined {
  if (!existsSync(binary)) return undefined;
  try {
    const printed = execFileSync(binary, ['--version'], { encoding: 'utf8', timeout: 10_000 });
    return /version\s+(\S+)/.exec(printed)?.[1];
  } catch {
    return undefined;
  }
}

/** Why the pinned server is not available, or undefined when it is. */
export function liveKitServerMissing(): string | undefined {
  const binary = liveKitServerPath();
  const version = versionOf(binary);
  if (version === LIVEKIT_SERVER_VERSION) return undefined;
  const found = version === undefined ? 'no runnable binary' : `version ${version}`;
  return `livekit-server ${LIVEKIT_SERVER_VERSION} is needed at ${binary} (found ${found}); run \`npm run livekit-server\``;
}

/** Builds the pinned server with `go install` unless the binary there is already that version. */
export function buildLiveKitServer(): string {
  const binary = join(buildDir, 'server');
  if (versionOf(binary) === LIVEKIT_SERVER_VERSION) return binary;
  mkdirSync(buildDir, { recursive: true });
  const module = `github.com/livekit/livekit-server/cmd/server@v${LIVEKIT_SERVER_VERSION}`;
  process.stderr.write(`building ${module} into ${buildDir} (needs Go 1.26+)\n`);
  try {
    execFileSync('go', ['install', module], {
      stdio: 'inherit',
      // Official builds are static; no C toolchain is needed.
      env: { ...process.env, GOBIN: buildDir, CGO_ENABLED: '0' },
    });
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'go is not installed' : '';
    throw new Error(`could not build livekit-server ${LIVEKIT_SERVER_VERSION}: ${reason || error}`);
  }
  const built = versionOf(binary);
  if (built !== LIVEKIT_SERVER_VERSION) {
    throw new Error(`built ${binary} reports version ${built ?? 'none'}`);
  }
  return binary;
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.stdout.write(`${buildLiveKitServer()}\n`);
}
