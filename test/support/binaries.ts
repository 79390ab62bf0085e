import { execFileSync } from 'node:child_process';
import { describe, it } from 'vitest';

export function hasBinary(name: string): boolean {
  try {
    execFileSync('which', [name], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/**
 * A describe block that needs `binary` (redis-server, prometheus). Without it the block skips
 * locally, but under CI=true it fails: CI installs these binaries, so a missing one is a
 * broken CI, never a reason to skip.
 */
export function describeWithBinary(binary: string, title: string, body: () => void): void {
  if (hasBinary(binary)) describe(title, body);
  else if (process.env.CI === 'true') {
    describe(title, () => {
      it(`needs ${binary}`, () => {
        throw new Error(`${binary} is not installed; CI must install it (see .ci/run)`);
      });
    });
  } else describe.skip(`${title} (needs ${binary})`, body);
}
