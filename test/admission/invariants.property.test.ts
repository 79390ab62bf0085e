import fc from 'fast-check';
import { afterEach, describe, it, vi } from 'vitest';
import { memoryStore } from '../../src/admission/store/memory-store.js';
import { fakeClock, opArbitrary, runScenario } from '../support/admission-scenario.js';
import { AsyncMemoryStore } from '../support/async-store.js';
import { useFakeClock } from '../support/fake-clock.js';

afterEach(() => {
  vi.useRealTimers();
});

describe.each([
  ['memory store', memoryStore, 300],
  ['a store answering asynchronously', () => new AsyncMemoryStore(), 150],
] as const)('admission invariants under random interleavings (%s)', (_name, makeStore, numRuns) => {
  it('never exceeds the global or a tenant cap, releases every slot exactly once, ends empty', async () => {
    useFakeClock();
    await fc.assert(
      fc.asyncProperty(
        fc.array(opArbitrary, { minLength: 1, maxLength: 40 }),
        fc.integer({ min: 1, max: 4 }),
        (ops, limit) => runScenario({ clock: fakeClock, makeStore }, ops, limit),
      ),
      { numRuns },
    );
  });
});
