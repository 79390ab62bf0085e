import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';

const { engines } = JSON.parse(
  readFileSync(new URL('../../package.json', import.meta.url), 'utf8'),
) as { engines: { node: string } };

/** The first Node release that has every run-time API the package calls. */
const NEEDED = { version: [20, 3, 0], why: 'AbortSignal.any (LiveKit health, Prometheus signal)' } as const;

describe('package.json engines', () => {
  it(`admits no Node release without ${NEEDED.why}`, () => {
    const floor = /^>=\s*(\d+)(?:\.(\d+))?(?:\.(\d+))?$/.exec(engines.node.trim());
    expect(floor, `engines.node "${engines.node}" is not a plain >= range`).not.toBeNull();
    const [major, minor = 0, patch = 0] = floor!.slice(1).map((part) => Number(part ?? 0));
    const atLeast = (a: number[], b: readonly number[]): boolean =>
      a[0] !== b[0] ? a[0]! > b[0]! : a[1] !== b[1] ? a[1]! > b[1]! : a[2]! >= b[2]!;
    expect(atLeast([major!, minor, patch], NEEDED.version)).toBe(true);
  });
});
