import { describe, expect, it } from 'vitest';
import { AdmissionError } from '../../src/iface/errors.js';
import { admissionFor, createSessionWithLimit } from '../../src/index.js';
import { ControlledBackend } from '../support/controlled-backend.js';
import { flush } from '../support/flush.js';

describe('createSessionWithLimit under a burst', () => {
  it('10,000 concurrent calls with cap 100: exactly 100 sessions open at the peak, never 101', async () => {
    const backend = new ControlledBackend({ autoComplete: 'succeed' });
    await backend.start();
    const calls = Array.from({ length: 10_000 }, (_, i) =>
      createSessionWithLimit(backend, { userId: `caller-${i}`, tenantId: `t${i % 7}` }, 100),
    );
    const outcomes = await Promise.allSettled(calls);
    const sessions = outcomes.flatMap((o) => (o.status === 'fulfilled' ? [o.value] : []));
    const refusals = outcomes.flatMap((o) => (o.status === 'rejected' ? [o.reason] : []));

    expect(backend.peakOpen).toBe(100);
    expect(sessions).toHaveLength(100);
    expect(refusals).toHaveLength(9_900);
    expect(refusals.every((r) => r instanceof AdmissionError && r.code === 'capacity')).toBe(true);
    // Refused calls never reached the provider.
    expect(backend.setupsStarted).toBe(100);

    await Promise.all(sessions.map((s) => s.close()));
    await flush();
    expect(backend.open).toBe(0);
    expect(admissionFor(backend)?.active).toBe(0);

    // Capacity is back: the next call succeeds.
    const again = await createSessionWithLimit(backend, { userId: 'later' }, 100);
    expect(again.state).toBe('active');
    await again.close();
  });

  it('the same burst with setups that complete out of order and fail half the time still peaks at the cap', async () => {
    const backend = new ControlledBackend();
    await backend.start();
    const admission = {
      maxConcurrentSessions: 100,
      health: false as const,
      queue: { maxSize: 10_000, timeoutMs: 600_000 },
    };
    const calls = Array.from({ length: 2_000 }, (_, i) =>
      createSessionWithLimit(backend, { userId: `c${i}` }, admission),
    );
    let round = 0;
    let succeeded = 0;
    let failed = 0;
    // Complete setups in shuffled order, failing every other one, and close sessions as they come.
    const settled = Promise.allSettled(calls);
    let done = false;
    void settled.then(() => {
      done = true;
    });
    while (!done) {
      await flush();
      const pending = [...backend.pending.values()].reverse();
      pending.forEach((setup, i) => {
        if ((i + round) % 2 === 0) {
          succeeded++;
          setup.succeed();
        } else {
          failed++;
          setup.fail();
        }
      });
      for (const session of backend.listSessions()) void session.close();
      round++;
    }
    const outcomes = await settled;
    expect(backend.peakOpen).toBe(100);
    // Every call was admitted eventually (the queue is long enough) and reached the backend once.
    expect(succeeded + failed).toBe(2_000);
    expect(outcomes.filter((o) => o.status === 'fulfilled')).toHaveLength(succeeded);
    expect(outcomes.filter((o) => o.status === 'rejected')).toHaveLength(failed);
    expect(backend.setupsStarted).toBe(2_000);
    await flush();
    expect(backend.open).toBe(0);
    expect(admissionFor(backend)?.active).toBe(0);
  });
});
