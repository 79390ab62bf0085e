import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Admission } from '../../src/admission/admission.js';
import type { Slot } from '../../src/admission/gate/slot.js';
import type { CapacityStore } from '../../src/admission/store/capacity-store.js';
import { memoryStore } from '../../src/admission/store/memory-store.js';
import { AsyncMemoryStore } from '../support/async-store.js';
import { CheckingStore } from '../support/checking-store.js';
import { ControlledBackend } from '../support/controlled-backend.js';
import { useFakeClock } from '../support/fake-clock.js';
import { flush, settle, type Tracked, track } from '../support/flush.js';
import { type AcquireFate, ScheduledStore } from '../support/scheduled-store.js';

/**
 * Queued waiters of a store that answers later go to it several at a time (one acquire per slot
 * released here, beside the one probing for slots freed elsewhere). These properties check that
 * this changes neither who gets a slot nor any invariant.
 */

afterEach(() => {
  vi.useRealTimers();
});

const TENANTS = ['a', 'b', 'c', 'd'] as const;

async function admissionOver(store: CapacityStore, limit: number): Promise<Admission> {
  const backend = new ControlledBackend();
  await backend.start();
  return new Admission(backend, {
    maxConcurrentSessions: limit,
    tenants: { defaultMax: 2 },
    queue: { maxSize: 12, maxPerTenant: 5, timeoutMs: 500 },
    health: false,
    telemetry: false,
    store,
  });
}

type OrderOp =
  | { kind: 'request'; tenant: (typeof TENANTS)[number]; priority: number }
  | { kind: 'release'; pick: number }
  | { kind: 'tenantLimit'; tenant: (typeof TENANTS)[number]; max: number };

const orderOpArbitrary: fc.Arbitrary<OrderOp> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('request' as const),
      tenant: fc.constantFrom(...TENANTS),
      priority: fc.constantFrom(0, 0, 1),
    }),
  },
  {
    weight: 3,
    arbitrary: fc.record({ kind: fc.constant('release' as const), pick: fc.nat() }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('tenantLimit' as const),
      tenant: fc.constantFrom(...TENANTS),
      max: fc.integer({ min: 0, max: 3 }),
    }),
  },
);

/** Runs `ops`, each settled before the next; returns who was granted, in order, then who was refused. */
async function grantOrder(
  store: CapacityStore,
  limit: number,
  ops: readonly OrderOp[],
): Promise<string[]> {
  const admission = await admissionOver(store, limit);
  const log: string[] = [];
  // Refusals reach callers after different numbers of promise hops: compared as a set.
  const refused: string[] = [];
  const held: Slot[] = [];
  let requests = 0;
  for (const op of ops) {
    if (op.kind === 'request') {
      const name = `${++requests}:${op.tenant}/${op.priority}`;
      admission.acquire({ tenantId: op.tenant, priority: op.priority }).then(
        (slot) => {
          log.push(`granted ${name}`);
          held.push(slot);
        },
        (error: { code: string }) => refused.push(`${name} ${error.code}`),
      );
    } else if (op.kind === 'release') {
      if (held.length > 0) held.splice(op.pick % held.length, 1)[0]!.release();
    } else admission.setTenantLimit(op.tenant, op.max);
    await settle(8);
  }
  // The slots still held stay held: nobody here gives them back on their signal.
  await admission.drain({ timeoutMs: 0, closeTimeoutMs: 0 });
  await settle(8);
  return [...log, ...refused.sort()];
}

describe('queued grants through a store that answers later', () => {
  // One release per step: releases made in one turn reach a store that answers later together,
  // while the synchronous path grants after each (both fair, on different information).
  it('go to the same waiters in the same order as with the synchronous memory store', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(orderOpArbitrary, { minLength: 1, maxLength: 50 }),
        fc.integer({ min: 1, max: 3 }),
        async (ops, limit) => {
          const expected = await grantOrder(memoryStore(), limit, ops);
          const actual = await grantOrder(new AsyncMemoryStore(), limit, ops);
          expect(actual).toEqual(expected);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('keep every invariant when the store answers late, out of order, or fails', async () => {
    useFakeClock();
    await fc.assert(
      fc.asyncProperty(
        fc.scheduler(),
        fc.array(
          fc.constantFrom<AcquireFate>('answer', 'answer', 'answer', 'fail', 'decide-then-fail'),
          {
            maxLength: 6,
          },
        ),
        fc.array(hostileOpArbitrary, { minLength: 1, maxLength: 40 }),
        fc.integer({ min: 1, max: 4 }),
        async (scheduler, fates, ops, limit) => {
          await runHostile(scheduler, fates, ops, limit);
        },
      ),
      { numRuns: 500 },
    );
  });
});

type HostileOp =
  | {
      kind: 'request';
      tenant: (typeof TENANTS)[number];
      priority: number;
      timeoutMs: number | undefined;
    }
  | { kind: 'release' | 'abort'; pick: number }
  | { kind: 'answer'; count: number }
  | { kind: 'advance'; ms: number }
  | { kind: 'setLimit'; max: number };

const hostileOpArbitrary: fc.Arbitrary<HostileOp> = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      kind: fc.constant('request' as const),
      tenant: fc.constantFrom(...TENANTS),
      priority: fc.constantFrom(0, 0, 1),
      timeoutMs: fc.option(fc.constantFrom(0, 50, 300), { nil: undefined }),
    }),
  },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('release' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('abort' as const), pick: fc.nat() }) },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('answer' as const),
      count: fc.integer({ min: 1, max: 4 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.constantFrom(20, 200) }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('setLimit' as const),
      max: fc.integer({ min: 1, max: 5 }),
    }),
  },
);

interface Request {
  readonly controller: AbortController;
  readonly tracked: Tracked<Slot>;
}

async function runHostile(
  scheduler: fc.Scheduler,
  fates: readonly AcquireFate[],
  ops: readonly HostileOp[],
  limit: number,
): Promise<void> {
  const store = new CheckingStore(new ScheduledStore(scheduler, fates));
  const admission = await admissionOver(store, limit);
  admission.on('store_error', () => undefined); // failures are the point here
  const requests: Request[] = [];
  const held = (): Slot[] =>
    requests
      .map((request) => request.tracked.result)
      .filter((result) => result.status === 'fulfilled' && !result.value!.released)
      .map((result) => result.value!);
  // Lowering the cap never evicts: what is held is bounded by the highest cap so far.
  let peakCap = limit;
  const answerAll = async (): Promise<void> => {
    for (;;) {
      await flush();
      if (scheduler.count() === 0) break;
      await scheduler.waitAll();
    }
  };

  for (const op of ops) {
    switch (op.kind) {
      case 'request': {
        const controller = new AbortController();
        const promise = admission.acquire(
          { tenantId: op.tenant, priority: op.priority },
          { signal: controller.signal, timeoutMs: op.timeoutMs },
        );
        requests.push({ controller, tracked: track(promise) });
        break;
      }
      case 'release': {
        const slots = held();
        if (slots.length > 0) slots[op.pick % slots.length]!.release();
        break;
      }
      case 'abort':
        if (requests.length > 0) requests[op.pick % requests.length]!.controller.abort();
        break;
      case 'answer':
        for (let i = 0; i < op.count && scheduler.count() > 0; i++) await scheduler.waitOne();
        break;
      case 'advance':
        vi.advanceTimersByTime(op.ms);
        break;
      case 'setLimit':
        peakCap = Math.max(peakCap, op.max);
        admission.setLimits({ maxConcurrentSessions: op.max });
        break;
    }
    await flush();
    expect(store.violations).toEqual([]);
    expect(store.held).toBeLessThanOrEqual(peakCap);
    expect(admission.active).toBeLessThanOrEqual(store.held);
  }

  // Every answer in: what admission holds is what the store granted, and nobody waits who
  // could be admitted.
  await answerAll();
  expect(admission.active).toBe(store.held);
  const stats = admission.stats();
  for (const tenant of stats.tenants) {
    if (tenant.queued === 0) continue;
    const blocked = stats.active >= stats.limit || tenant.active >= tenant.limit;
    expect(blocked, `tenant ${tenant.tenantId} waits while admissible`).toBe(true);
  }

  for (const slot of held()) slot.release();
  const drained = admission.drain({ timeoutMs: 0 });
  await answerAll();
  await drained;
  await answerAll();
  expect(store.violations).toEqual([]);
  expect(store.unreleased()).toEqual([]);
  expect(admission.active).toBe(0);
  expect(admission.queued).toBe(0);
  for (const request of requests) expect(request.tracked.result.status).not.toBe('pending');
}
