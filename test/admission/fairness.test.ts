import { describe, expect, it } from 'vitest';
import { Admission } from '../../src/admission/admission.js';
import type { Slot } from '../../src/admission/gate/slot.js';
import { ControlledBackend } from '../support/controlled-backend.js';
import { flush } from '../support/flush.js';

async function admissionWith(max: number): Promise<Admission> {
  const backend = new ControlledBackend();
  await backend.start();
  return new Admission(backend, {
    maxConcurrentSessions: max,
    health: false,
    queue: { maxSize: 1_000, timeoutMs: 60_000 },
  });
}

describe('fair queue', () => {
  it("serves a newcomer with the next free slot, not after a flooding tenant's backlog", async () => {
    const admission = await admissionWith(2);
    const held = [
      await admission.acquire({ tenantId: 'A' }),
      await admission.acquire({ tenantId: 'A' }),
    ];
    const flood = Array.from({ length: 50 }, () => admission.acquire({ tenantId: 'A' }));
    const newcomer = admission.acquire({ tenantId: 'B' });
    const grants: string[] = [];
    for (const p of [...flood, newcomer]) {
      p.then(
        (slot) => grants.push(slot.tenantId),
        () => undefined,
      );
    }
    expect(admission.queued).toBe(51);

    held[0]!.release();
    await flush();
    expect(grants).toEqual(['B']);
    (await newcomer).release();
    held[1]!.release();
    await flush();
    expect(grants).toEqual(['B', 'A', 'A']);
    await admission.drain({ timeoutMs: 0 });
    await Promise.allSettled(flood);
  });

  it("a waiter held back by its tenant's cap never blocks other tenants' waiters", async () => {
    const admission = await admissionWith(3);
    admission.setTenantLimit('A', 1);
    const heldA = await admission.acquire({ tenantId: 'A' });
    // First in line by priority, but at its tenant's cap.
    const blockedA = admission.acquire({ tenantId: 'A', priority: 1 });
    void blockedA.catch(() => undefined);
    const filler = await Promise.all([1, 2].map(() => admission.acquire({ tenantId: 'B' })));
    const waitingC = admission.acquire({ tenantId: 'C' });
    await flush();
    expect(admission.stats().tenants.map((t) => [t.tenantId, t.active, t.queued])).toEqual([
      ['A', 1, 1],
      ['B', 2, 0],
      ['C', 0, 1],
    ]);
    // Capacity appears without any release (a raised cap): A is first in line but at its
    // own cap, so C must get the slot.
    admission.setLimits({ maxConcurrentSessions: 4 });
    const slotC: Slot = await waitingC;
    expect(slotC.tenantId).toBe('C');
    expect(admission.stats().tenants.find((t) => t.tenantId === 'A')).toMatchObject({
      queued: 1,
      active: 1,
    });
    for (const slot of [...filler, slotC]) slot.release();
    await admission.drain({ timeoutMs: 0 });
    await expect(blockedA).rejects.toMatchObject({ code: 'draining' });
    heldA.release();
  });

  it('tenants holding the same share take turns round-robin', async () => {
    const admission = await admissionWith(1);
    const first = await admission.acquire({ tenantId: 'warmup' });
    const order: string[] = [];
    const all: Promise<void>[] = [];
    for (const tenant of ['A', 'A', 'A', 'B', 'B', 'B', 'C', 'C', 'C']) {
      all.push(
        admission.acquire({ tenantId: tenant }).then((slot) => {
          order.push(slot.tenantId);
          // Hand the slot on right away, so every grant sees the same shares (all zero).
          queueMicrotask(() => slot.release());
        }),
      );
    }
    first.release();
    await Promise.all(all);
    expect(order).toEqual(['A', 'B', 'C', 'A', 'B', 'C', 'A', 'B', 'C']);
  });
});
