import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { useFakeClock } from '../support/fake-clock.js';
import {
  type HostileRun,
  hostileRunArbitrary,
  runHostile,
  sharedStoreRunArbitrary,
} from '../support/hostile-scenario.js';

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

/** `npm run soak` sets this: run that many operations and print the violations counted. */
const soakOperations = Number(process.env.SOAK_OPERATIONS ?? 0);

describe('admission against a hostile backend and callers that hang up at every await', () => {
  it(
    'keeps the caps, one live session per key, answers everyone and ends empty',
    async () => {
      useFakeClock();
      // Sessions whose close throws or whose closed rejects end anyway and are reported:
      // nothing else is warned of.
      const warnings = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
      if (soakOperations > 0) {
        expect(await soak(soakOperations)).toEqual({});
        return;
      }
      await fc.assert(
        fc.asyncProperty(hostileRunArbitrary, async (run) => {
          expect(await runHostile(run)).toEqual([]);
        }),
        { numRuns: 300 },
      );
      for (const [warning] of warnings.mock.calls) {
        expect(warning).toMatchObject({
          message: expect.stringMatching(/^hostile (close threw|closed rejected)$/),
        });
      }
    },
    soakOperations > 0 ? 0 : undefined,
  );

  it('keeps them across two Admissions sharing a memory store, and wakes either on a release', async () => {
    useFakeClock();
    vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    await fc.assert(
      fc.asyncProperty(sharedStoreRunArbitrary, async (run) => {
        expect(await runHostile(run)).toEqual([]);
      }),
      { numRuns: 200 },
    );
  });
});

/** Runs random interleavings until `operations` have run; returns violations by kind. */
async function soak(operations: number): Promise<Record<string, number>> {
  // Real time (the fake clock fakes performance and Date).
  const started = process.hrtime.bigint();
  const violations: Record<string, number> = {};
  let done = 0;
  let runs = 0;
  for (let seed = 1; done < operations; seed++) {
    const batch: HostileRun[] = fc.sample(hostileRunArbitrary, { numRuns: 1_000, seed });
    for (const run of batch) {
      for (const violation of await runHostile(run)) {
        const kind = violation.replace(/\d+/g, 'N');
        violations[kind] = (violations[kind] ?? 0) + 1;
      }
      done += run.ops.length;
      runs++;
      if (done >= operations) break;
    }
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const total = Object.values(violations).reduce((sum, n) => sum + n, 0);
  console.log(
    JSON.stringify({ operations: done, runs, violations: total, byKind: violations, seconds }),
  );
  return violations;
}
