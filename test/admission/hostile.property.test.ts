import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { useFakeClock } from '../support/fake-clock.js';
import { hostileRunArbitrary, runHostile } from '../support/hostile-scenario.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('admission against a hostile backend and callers that hang up at every await', () => {
  it('keeps the caps, one live session per key, answers everyone and ends empty', async () => {
    useFakeClock();
    await fc.assert(
      fc.asyncProperty(hostileRunArbitrary, async (run) => {
        expect(await runHostile(run)).toEqual([]);
      }),
      { numRuns: 300 },
    );
  });
});
