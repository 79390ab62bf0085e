import { describe, expect, it } from 'vitest';
import { interleaved } from '../../bench/isolated.js';

const MODULE = new URL('../support/children/bench-contenders.ts', import.meta.url).href;

describe('interleaved', () => {
  it('runs each contender in its own process, one after the other, round after round', async () => {
    const samples = await interleaved(MODULE, ['a', 'b'], 2);
    const runs = [0, 1].flatMap((round) => ['a', 'b'].map((name) => samples.get(name)![round]!));
    expect(runs).toHaveLength(4);
    // Each process loaded after the one before had started measuring: nothing overlapped.
    for (let i = 1; i < runs.length; i++) {
      expect(runs[i]!.loadedAt).toBeGreaterThan(runs[i - 1]!.startedAt!);
    }
  }, 60_000);

  it('together: a round lets its contenders measure only once every one of them has loaded', async () => {
    const samples = await interleaved(MODULE, ['a', 'b', 'c'], 2, { together: true });
    for (const round of [0, 1]) {
      const runs = ['a', 'b', 'c'].map((name) => samples.get(name)![round]!);
      const lastLoaded = Math.max(...runs.map((run) => run.loadedAt!));
      for (const run of runs) expect(run.startedAt).toBeGreaterThanOrEqual(lastLoaded);
    }
    // Rounds follow one another.
    const lastStartOfFirst = Math.max(
      ...['a', 'b', 'c'].map((n) => samples.get(n)![0]!.startedAt!),
    );
    const firstLoadOfSecond = Math.min(
      ...['a', 'b', 'c'].map((n) => samples.get(n)![1]!.loadedAt!),
    );
    expect(firstLoadOfSecond).toBeGreaterThan(lastStartOfFirst);
  }, 60_000);

  it('a contender that fails fails the case, naming it, and holds up no round', async () => {
    await expect(interleaved(MODULE, ['a', 'failing'], 1, { together: true })).rejects.toThrow(
      /contender failing failed \(exit 1\)[\s\S]*this contender fails/,
    );
  }, 60_000);

  it('a contender that dies before it is ready fails the case and holds up no round', async () => {
    await expect(interleaved(MODULE, ['a', 'broken'], 1, { together: true })).rejects.toThrow(
      /contender broken failed \(exit 1\)[\s\S]*cannot even load/,
    );
  }, 60_000);
});
