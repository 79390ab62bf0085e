import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  SimulatedBackend,
  type SimulatedTurn,
} from '../../src/providers/simulated/simulated-backend.js';
import { useFakeClock } from '../support/fake-clock.js';

afterEach(() => {
  vi.useRealTimers();
});

/** Opens `count` sessions with no setup latency. */
async function open(backend: SimulatedBackend, count: number) {
  const opening = Array.from({ length: count }, (_, i) =>
    backend.createSession({ userId: `u${i}`, tenantId: 'acme' }),
  );
  await vi.advanceTimersByTimeAsync(0);
  return Promise.all(opening);
}

describe('simulated turn latency', () => {
  it('grows with live sessions past a capacity that changes on schedule', async () => {
    useFakeClock();
    const backend = new SimulatedBackend({
      providerConfig: {
        setupLatencyMs: 0,
        jitter: 0,
        turns: {
          intervalMs: 1_000,
          latencyMs: 500,
          capacity: 4,
          exponent: 2,
          jitter: 0,
          capacityChanges: [
            { atMs: 10_000, capacity: 2 },
            { atMs: 20_000, capacity: 4 },
          ],
        },
      },
    });
    await backend.start();
    const turns: SimulatedTurn[] = [];
    backend.onTurn((turn) => turns.push(turn));
    const sessions = await open(backend, 4);
    await vi.advanceTimersByTimeAsync(2_000);
    // At capacity: the base latency, one turn per session per interval.
    expect(turns.length).toBeGreaterThanOrEqual(4);
    expect(new Set(turns.map((t) => t.latencyMs))).toEqual(new Set([500]));
    expect(turns[0]).toMatchObject({ tenantId: 'acme', live: 4 });

    const more = await open(backend, 4);
    turns.length = 0;
    await vi.advanceTimersByTimeAsync(1_000);
    // Eight live on a capacity of four: (8/4)^2 times slower.
    expect(turns.length).toBe(8);
    expect(turns.every((t) => t.latencyMs === 2_000 && t.live === 8)).toBe(true);

    await vi.advanceTimersByTimeAsync(8_000);
    expect(backend.turnCapacity).toBe(2);
    turns.length = 0;
    await vi.advanceTimersByTimeAsync(1_000);
    expect(turns.every((t) => t.latencyMs === 500 * 16)).toBe(true);
    await vi.advanceTimersByTimeAsync(10_000);
    expect(backend.turnCapacity).toBe(4);

    // Closed sessions take no more turns.
    for (const session of [...sessions, ...more]) await session.close();
    turns.length = 0;
    await vi.advanceTimersByTimeAsync(5_000);
    expect(turns).toEqual([]);
    await backend.stop();
  });

  it('stops its capacity schedule when stopped, and refuses a bad capacity', async () => {
    useFakeClock();
    const backend = new SimulatedBackend({
      providerConfig: { turns: { capacity: 4, capacityChanges: [{ atMs: 1_000, capacity: 1 }] } },
    });
    await backend.start();
    await backend.stop();
    await vi.advanceTimersByTimeAsync(2_000);
    expect(backend.turnCapacity).toBe(4);
    expect(() => backend.setTurnCapacity(0)).toThrow(/integer >= 1, got 0/);
    expect(() => new SimulatedBackend().setTurnCapacity(3)).toThrow(/providerConfig\.turns/);
  });

  it('validates the turn model, naming the field and the value', () => {
    const make = (turns: unknown) => () =>
      new SimulatedBackend({ providerConfig: { turns } as never });
    expect(make({ capacity: 0 })).toThrow(/providerConfig\.turns\.capacity.*0/);
    expect(make({ jitter: 2 })).toThrow(/providerConfig\.turns\.jitter.*2/);
    expect(make({ intervalMs: 2 ** 31 })).toThrow(/providerConfig\.turns\.intervalMs/);
    expect(make({ capacityChanges: 'soon' })).toThrow(
      /providerConfig\.turns\.capacityChanges.*soon/,
    );
    expect(make({ capacityChanges: [{ atMs: 5 }] })).toThrow(
      /providerConfig\.turns\.capacityChanges\[0\]\.capacity/,
    );
    expect(make({ speed: 1 })).toThrow(/providerConfig\.turns.*speed/);
  });
});
