import fc from 'fast-check';
import { expect, vi } from 'vitest';
import { Admission } from '../../src/admission/admission.js';
import type { CapacityStore } from '../../src/admission/store/capacity-store.js';
import type { VoiceSession } from '../../src/iface/session.js';
import { CheckingStore } from './checking-store.js';
import { ControlledBackend } from './controlled-backend.js';
import { flush, type Tracked, track } from './flush.js';
import { type LimitOp, limitOpArbitraries, type ScenarioTenant, TENANTS } from './scenario-ops.js';

/**
 * Random interleavings of create / fail / abort / timeout / close / remote end / limit change
 * / health change / drain against a real Admission, checking the invariants after every step:
 * no grant over a cap, every lease released exactly once, no provider resource without a slot,
 * nobody waiting who could be admitted, one live session per idempotency key, and everything
 * empty at the end. Shared by the in-memory and the Redis runs.
 */

/** How time passes in a run: faked (instant, exact) or real (for a networked store). */
export interface ScenarioClock {
  /** Multiplies every duration of the scenario, so a real clock can run it quickly. */
  readonly scale: number;
  advance(ms: number): Promise<void>;
  /** Returns once every store answer under way has arrived and its effects have run. */
  settle(store: CheckingStore): Promise<void>;
}

export interface ScenarioSetup {
  readonly clock: ScenarioClock;
  readonly makeStore: () => CapacityStore;
  readonly close?: (store: CapacityStore) => Promise<void>;
}

/** Fake timers (set up by the caller with useFakeClock): time moves only when told. */
export const fakeClock: ScenarioClock = {
  scale: 1,
  advance: async (ms) => {
    vi.advanceTimersByTime(ms);
  },
  // Let every chain of store answers run out (an asynchronous store answers a turn later).
  settle: async () => {
    for (let i = 0; i < 8; i++) await flush();
  },
};

/** Real timers, durations scaled down; settling waits for the store to go quiet. */
export function realClock(scale: number): ScenarioClock {
  return {
    scale,
    advance: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    settle: async (store) => {
      let quiet = 0;
      for (let i = 0; i < 2_000 && quiet < 5; i++) {
        await new Promise((resolve) => setTimeout(resolve, 1));
        quiet = store.pending === 0 ? quiet + 1 : 0;
      }
    },
  };
}

const KEYS = ['k1', 'k2'] as const;

type Op =
  | {
      kind: 'request';
      tenant: ScenarioTenant;
      priority: number;
      abortable: boolean;
      timeoutMs: number | undefined;
      key: (typeof KEYS)[number] | undefined;
    }
  | { kind: 'succeed' | 'fail' | 'abort' | 'close' | 'remoteEnd'; pick: number }
  | { kind: 'advance'; ms: number }
  | LimitOp
  | { kind: 'health'; healthy: boolean }
  | { kind: 'drain'; timeoutMs: number };

export const opArbitrary: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.record({
      kind: fc.constant('request' as const),
      tenant: fc.constantFrom(...TENANTS),
      priority: fc.constantFrom(0, 0, 0, 1),
      abortable: fc.boolean(),
      timeoutMs: fc.option(fc.constantFrom(0, 50, 500), { nil: undefined }),
      key: fc.option(fc.constantFrom(...KEYS), { nil: undefined, freq: 4 }),
    }),
  },
  { weight: 4, arbitrary: fc.record({ kind: fc.constant('succeed' as const), pick: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('fail' as const), pick: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('abort' as const), pick: fc.nat() }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('close' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('remoteEnd' as const), pick: fc.nat() }) },
  {
    weight: 2,
    arbitrary: fc.record({
      kind: fc.constant('advance' as const),
      ms: fc.constantFrom(10, 60, 600, 1_100),
    }),
  },
  ...limitOpArbitraries,
  {
    weight: 1,
    arbitrary: fc.record({ kind: fc.constant('health' as const), healthy: fc.boolean() }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('drain' as const),
      timeoutMs: fc.constantFrom(0, 100, 2_000),
    }),
  },
);

interface RequestRecord {
  readonly tenant: string;
  readonly key: string | undefined;
  readonly controller: AbortController;
  readonly tracked: Tracked<VoiceSession>;
}

/**
 * Runs one random interleaving against a real Admission over a backend whose setups the
 * script completes, fails or aborts, and checks the invariants after every step.
 */
export async function runScenario(
  setup: ScenarioSetup,
  ops: readonly Op[],
  initialLimit: number,
): Promise<void> {
  const { clock } = setup;
  const ms = (value: number): number => Math.max(1, Math.round(value * clock.scale));
  const backend = new ControlledBackend();
  await backend.start();
  const inner = setup.makeStore();
  const store = new CheckingStore(inner);
  const admission = new Admission(backend, {
    maxConcurrentSessions: initialLimit,
    tenants: { defaultMax: 2 },
    queue: { maxSize: 6, maxPerTenant: 4, timeoutMs: ms(1_000) },
    setup: { timeoutMs: ms(5_000) },
    health: { intervalMs: Math.max(10, ms(500)), timeoutMs: ms(100) },
    store,
  });
  const failures: string[] = [];
  // Checked at the instant provider resources change: never more open than slots held.
  backend.onOpenChanged = (open) => {
    if (open > store.held) failures.push(`backend has ${open} open with ${store.held} slots held`);
  };
  let grantsOverLimit = 0;
  admission.on('admitted', (event) => {
    if (event.active > admission.limit) grantsOverLimit++;
  });
  const requests: RequestRecord[] = [];
  let drained: Promise<unknown> | undefined;

  const checkAtRest = (): void => {
    expect(store.violations).toEqual([]);
    expect(failures).toEqual([]);
    expect(grantsOverLimit).toBe(0);
    expect(admission.active).toBe(store.held);
    expect(backend.open).toBeLessThanOrEqual(store.held);
    // Nobody waits who could be admitted: a queued tenant is blocked by a cap, the health
    // gate, or a drain.
    const stats = admission.stats();
    if (stats.admitting) {
      for (const tenant of stats.tenants) {
        if (tenant.queued === 0) continue;
        const blocked = stats.active >= stats.limit || tenant.active >= tenant.limit;
        expect(blocked, `tenant ${tenant.tenantId} waits while admissible`).toBe(true);
      }
    }
    // One idempotency key never maps to two live sessions.
    for (const key of KEYS) {
      const live = new Set(
        requests
          .filter((r) => r.key === key && r.tracked.result.status === 'fulfilled')
          .map((r) => r.tracked.result.value!)
          .filter((s) => s.state !== 'closed'),
      );
      expect(live.size, `key ${key}`).toBeLessThanOrEqual(1);
    }
  };

  const pick = <T>(items: readonly T[], n: number): T | undefined =>
    items.length === 0 ? undefined : items[n % items.length];
  const openSessions = (): VoiceSession[] => backend.listSessions();

  for (const op of ops) {
    switch (op.kind) {
      case 'request': {
        const controller = new AbortController();
        const key = op.key;
        const promise = admission.createSession(
          key === undefined
            ? { userId: `u${requests.length}`, tenantId: op.tenant }
            : { userId: `owner-${key}`, tenantId: 'a', idempotencyKey: key },
          {
            priority: op.priority,
            ...(op.abortable ? { signal: controller.signal } : {}),
            ...(op.timeoutMs === undefined
              ? {}
              : { timeoutMs: op.timeoutMs === 0 ? 0 : ms(op.timeoutMs) }),
          },
        );
        requests.push({
          tenant: key === undefined ? op.tenant : 'a',
          key,
          controller,
          tracked: track(promise),
        });
        break;
      }
      case 'succeed':
      case 'fail': {
        const setup = pick([...backend.pending.values()], op.pick);
        if (op.kind === 'succeed') setup?.succeed();
        else setup?.fail();
        break;
      }
      case 'abort':
        pick(requests, op.pick)?.controller.abort(new Error('caller gave up'));
        break;
      case 'close':
        void pick(openSessions(), op.pick)?.close();
        break;
      case 'remoteEnd': {
        const session = pick(openSessions(), op.pick);
        if (session !== undefined) backend.endFromServer(session.id);
        break;
      }
      case 'advance':
        await clock.advance(ms(op.ms));
        break;
      case 'setLimit':
        admission.setLimits({ maxConcurrentSessions: op.max });
        break;
      case 'setTenantLimit':
        admission.setTenantLimit(op.tenant, op.max);
        break;
      case 'health':
        backend.health = op.healthy
          ? { healthy: true, status: 'healthy' }
          : { healthy: false, status: 'unhealthy', reason: 'scripted outage' };
        break;
      case 'drain':
        drained ??= admission.drain({
          timeoutMs: op.timeoutMs === 0 ? 0 : ms(op.timeoutMs),
          closeTimeoutMs: ms(100),
        });
        break;
    }
    await clock.settle(store);
    checkAtRest();
  }

  // Wind down: drain with a short deadline, letting fake time pass until it resolves.
  drained ??= admission.drain({ timeoutMs: ms(100), closeTimeoutMs: ms(100) });
  let done = false;
  void drained.then(() => {
    done = true;
  });
  for (let i = 0; i < 50 && !done; i++) {
    await clock.advance(ms(50));
    await flush();
  }
  expect(done).toBe(true);
  await clock.settle(store);
  checkAtRest();
  expect(admission.active).toBe(0);
  expect(admission.queued).toBe(0);
  expect(store.held).toBe(0);
  expect(store.unreleased()).toEqual([]);
  expect(backend.open).toBe(0);
  expect(backend.pending.size).toBe(0);
  for (const request of requests) expect(request.tracked.result.status).not.toBe('pending');
  await setup.close?.(inner);
}
