import type { Contenders } from '../../../bench/isolated.js';

/** When this contender's process had loaded this module: before it said it was ready. */
const loadedAt = performance.timeOrigin + performance.now();

const timed = async (): Promise<Record<string, number>> => ({
  loadedAt,
  startedAt: performance.timeOrigin + performance.now(),
});

/** Contenders for the tests of bench/isolated.ts: each reports when it loaded and started. */
export const contenders: Contenders = {
  a: timed,
  b: timed,
  c: timed,
  broken: timed,
  failing: () => Promise.reject(new Error('this contender fails')),
};
if (process.argv.includes('broken')) throw new Error('this contender cannot even load');
