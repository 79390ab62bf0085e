import { afterEach, describe, expect, it, vi } from 'vitest';
import { Admission } from '../../src/admission/admission.js';
import type { SetupOptions } from '../../src/admission/options.js';
import {
  type AcquireRequest,
  type CapacityStore,
  isRefusal,
  type Lease,
} from '../../src/admission/store/capacity-store.js';
import { memoryStore } from '../../src/admission/store/memory-store.js';
import { AdmissionError } from '../../src/iface/errors.js';
import type { VoiceSession } from '../../src/iface/session.js';
import { useFakeClock } from '../support/fake-clock.js';
import { settle, type Tracked, track } from '../support/flush.js';
import { type AbortBehaviour, HostileBackend } from '../support/hostile-backend.js';

afterEach(() => {
  vi.useRealTimers();
});

/** Lets `ticks` microtask turns pass, then runs `then`. */
function afterTicks(ticks: number, then: () => void): void {
  let turn = Promise.resolve();
  for (let i = 0; i < ticks; i++) turn = turn.then(() => undefined);
  void turn.then(then);
}

/**
 * Cap 5, 100 callers arriving one a millisecond, creates taking 50 ms. Each caller hangs up
 * `hangUpAfterMs` after its call (if set); `at10ms` runs 10 ms in. Returns the most the backend
 * ever had open, and what is left once every create and close has settled.
 */
async function burst(
  onAbort: AbortBehaviour,
  setup: SetupOptions,
  hangUpAfterMs: number | undefined,
  at10ms: (admission: Admission) => void = () => undefined,
): Promise<{ peakOpen: number; leftOpen: number; leftHeld: number }> {
  useFakeClock();
  const backend = new HostileBackend();
  backend.plan = () => ({ settleMs: 50, outcome: 'succeed', onAbort, closeMs: 5 });
  const admission = new Admission(backend, {
    maxConcurrentSessions: 5,
    queue: { maxSize: 100 },
    setup,
    health: false,
  });
  const requests: Tracked<VoiceSession>[] = [];
  for (let i = 0; i < 100; i++) {
    const caller = new AbortController();
    requests.push(track(admission.createSession({ userId: `u${i}` }, { signal: caller.signal })));
    if (hangUpAfterMs !== undefined) {
      setTimeout(() => caller.abort(new Error('caller hung up')), hangUpAfterMs);
    }
    await settle();
    vi.advanceTimersByTime(1);
    if (i === 10) at10ms(admission);
  }
  for (let i = 0; i < 300; i++) {
    vi.advanceTimersByTime(10);
    await settle();
  }
  for (const request of requests) {
    if (request.result.status === 'fulfilled') void request.result.value!.close();
  }
  vi.advanceTimersByTime(10);
  await settle();
  expect(requests.every((r) => r.result.status !== 'pending')).toBe(true);
  return { peakOpen: backend.peakOpen, leftOpen: backend.open, leftHeld: admission.active };
}

describe('a slot is released only once the backend create has settled', () => {
  it.each([
    ['finishes, then tears down (the LiveKit provider)', 'finish-then-teardown'],
    ['ignores the signal', 'ignore'],
    ['honours the signal late', 'honour'],
  ] as const)(
    'callers hanging up under smoothing: a backend that %s stays at the cap',
    async (_, onAbort) => {
      const result = await burst(onAbort, { concurrency: 20 }, 10);
      expect(result).toEqual({ peakOpen: 5, leftOpen: 0, leftHeld: 0 });
    },
  );

  it('the same without smoothing', async () => {
    const result = await burst('ignore', {}, 10);
    expect(result).toEqual({ peakOpen: 5, leftOpen: 0, leftHeld: 0 });
  });

  it('setup timeouts keep the slot until the create has settled and its session is closed', async () => {
    const result = await burst('ignore', { concurrency: 20, timeoutMs: 10 }, undefined);
    expect(result).toEqual({ peakOpen: 5, leftOpen: 0, leftHeld: 0 });
  });

  it('the drain deadline keeps the slot until the create has settled and its session is closed', async () => {
    let drained: Promise<unknown> | undefined;
    const result = await burst('ignore', { concurrency: 20 }, undefined, (admission) => {
      drained = admission.drain({ timeoutMs: 0, closeTimeoutMs: 10_000 });
    });
    expect(result).toEqual({ peakOpen: 5, leftOpen: 0, leftHeld: 0 });
    await expect(drained).resolves.toMatchObject({ timedOut: true, stillActive: 0 });
  });

  it('answers a caller who hangs up at once, while its slot waits for the create', async () => {
    useFakeClock();
    const backend = new HostileBackend();
    backend.plan = () => ({ settleMs: 50, outcome: 'succeed', onAbort: 'ignore', closeMs: 5 });
    const admission = new Admission(backend, {
      maxConcurrentSessions: 1,
      setup: { concurrency: 1 },
      health: false,
    });
    const caller = new AbortController();
    const request = track(admission.createSession({ userId: 'u' }, { signal: caller.signal }));
    await settle();
    vi.advanceTimersByTime(10);
    caller.abort(new Error('hung up'));
    await settle();
    expect(request.result.error).toMatchObject({ code: 'aborted' });
    expect(admission.active).toBe(1);
    expect(backend.open).toBe(1);
    vi.advanceTimersByTime(40); // the create settles with a session nobody receives: closed
    await settle();
    expect(admission.active).toBe(1);
    vi.advanceTimersByTime(5);
    await settle();
    expect({ active: admission.active, open: backend.open }).toEqual({ active: 0, open: 0 });
  });
});

describe('an idempotency key belongs to its creation until its session is closed', () => {
  it.each([0, 1, 2, 3, 4, 6, 8])(
    'the only caller hanging up %i microtask turns after the backend returned leaves no second session',
    async (ticks) => {
      useFakeClock();
      const backend = new HostileBackend();
      backend.plan = () => ({ settleMs: 20, outcome: 'succeed', onAbort: 'honour', closeMs: 30 });
      let keyOpenTwice = false;
      backend.onOpen = () => {
        keyOpenTwice ||= backend.keysOpenTwice().length > 0;
      };
      const admission = new Admission(backend, { maxConcurrentSessions: 5, health: false });
      const config = { userId: 'caller', tenantId: 't', idempotencyKey: 'job-1' };
      const first = new AbortController();
      backend.onSettle = () => afterTicks(ticks, () => first.abort(new Error('hung up')));
      const firstRequest = track(admission.createSession(config, { signal: first.signal }));
      await settle();
      vi.advanceTimersByTime(20);
      await settle();
      backend.onSettle = undefined;
      const second = track(admission.createSession(config));
      for (let i = 0; i < 10; i++) {
        vi.advanceTimersByTime(10);
        await settle();
      }
      expect(keyOpenTwice).toBe(false);
      const sessions = new Set(
        [firstRequest, second]
          .filter((r) => r.result.status === 'fulfilled')
          .map((r) => r.result.value as VoiceSession),
      );
      expect([...sessions].filter((s) => s.state !== 'closed').length).toBe(1);
      expect(second.result.status).toBe('fulfilled');
      expect(backend.open).toBe(1);
    },
  );
});

/** A memory store that can drop a lease, as a shared store does when the lease expired. */
class DroppingStore implements CapacityStore {
  readonly kind = 'dropping';
  readonly inner = memoryStore();
  readonly #dropped = new Set<Lease>();
  #listeners: ((lease: Lease) => void)[] = [];
  readonly held: Lease[] = [];

  tryAcquire(request: AcquireRequest) {
    const result = this.inner.tryAcquire(request);
    if (!isRefusal(result)) this.held.push(result);
    return result;
  }
  release(lease: Lease): void {
    if (!this.#dropped.delete(lease)) this.inner.release(lease);
  }
  usage() {
    return this.inner.usage();
  }
  onLeaseLost(listener: (lease: Lease) => void): () => void {
    this.#listeners.push(listener);
    return () => {
      this.#listeners = this.#listeners.filter((l) => l !== listener);
    };
  }
  drop(lease: Lease): void {
    this.inner.release(lease);
    this.#dropped.add(lease);
    for (const listener of this.#listeners) listener(lease);
  }
}

describe('a slot the store dropped during setup', () => {
  it('answers the caller at once and is given back once the create settled and its session closed', async () => {
    useFakeClock();
    const backend = new HostileBackend();
    backend.plan = () => ({ settleMs: 50, outcome: 'succeed', onAbort: 'ignore', closeMs: 5 });
    const store = new DroppingStore();
    const admission = new Admission(backend, { maxConcurrentSessions: 1, health: false, store });
    const lost: (string | undefined)[] = [];
    admission.on('lease_lost', (e) => lost.push(e.sessionId));
    const request = track(admission.createSession({ userId: 'u' }));
    await settle();
    vi.advanceTimersByTime(10);
    store.drop(store.held[0]!);
    await settle();
    expect(lost).toEqual([undefined]);
    expect(request.result.error).toMatchObject({ code: 'store_unavailable' });
    expect({ active: admission.active, open: backend.open }).toEqual({ active: 1, open: 1 });
    vi.advanceTimersByTime(40);
    await settle();
    expect(backend.open).toBe(1); // being closed
    vi.advanceTimersByTime(5);
    await settle();
    expect({ active: admission.active, open: backend.open }).toEqual({ active: 0, open: 0 });
  });
});

describe('a retry of a failed keyed creation', () => {
  it('made from the failure handler itself starts a new creation and is answered', async () => {
    useFakeClock();
    const backend = new HostileBackend();
    let outcome: 'fail' | 'succeed' = 'fail';
    backend.plan = () => ({ settleMs: 10, outcome, onAbort: 'honour', closeMs: 0 });
    const admission = new Admission(backend, { maxConcurrentSessions: 2, health: false });
    const config = { userId: 'u', idempotencyKey: 'job' };
    let retry: Tracked<VoiceSession> | undefined;
    const first = admission.createSession(config).catch((error: unknown) => {
      outcome = 'succeed';
      retry = track(admission.createSession(config));
      throw error;
    });
    const failed = track(first);
    await settle();
    vi.advanceTimersByTime(10);
    await settle();
    vi.advanceTimersByTime(10);
    await settle();
    expect(failed.result.error).toMatchObject({ code: 'setup_failed' });
    expect(retry?.result.status).toBe('fulfilled');
    expect(backend.creates).toBe(2);
  });
});

describe('a retry of a cancelled keyed creation', () => {
  it('made from the refused listener itself is answered, though the create ignores the cancel', async () => {
    useFakeClock();
    const backend = new HostileBackend();
    backend.plan = () => ({ settleMs: 50, outcome: 'succeed', onAbort: 'ignore', closeMs: 5 });
    const admission = new Admission(backend, { maxConcurrentSessions: 2, health: false });
    const config = { userId: 'u', idempotencyKey: 'job' };
    let retry: Tracked<VoiceSession> | undefined;
    let retried = false;
    // One retry: marked before it is made, since its own refusal reaches this listener inside
    // the call (with `retry ??=`, each refusal retried again, down to a stack overflow).
    admission.on('refused', () => {
      if (retried) return;
      retried = true;
      retry = track(admission.createSession(config));
    });
    const first = track(admission.createSession(config));
    await settle();
    vi.advanceTimersByTime(10);
    // The drain deadline cancels the creation: its caller is refused with draining.
    const drained = track(admission.drain({ timeoutMs: 0, closeTimeoutMs: 1_000 }));
    vi.advanceTimersByTime(0);
    await settle();
    expect(first.result.error).toMatchObject({ code: 'draining' });
    for (let i = 0; i < 10; i++) {
      vi.advanceTimersByTime(10);
      await settle();
    }
    expect(drained.result.status).toBe('fulfilled');
    expect(retry?.result.error).toMatchObject({ code: 'draining' });
    expect({ active: admission.active, open: backend.open }).toEqual({ active: 0, open: 0 });
  });
});

describe('every refused caller is counted once', () => {
  it('three callers sharing a key, refused for capacity: three refusals', async () => {
    const backend = new HostileBackend();
    const admission = new Admission(backend, { maxConcurrentSessions: 1, health: false });
    const refused: string[] = [];
    admission.on('refused', (e) => refused.push(e.code));
    const holder = await admission.acquire();
    const config = { userId: 'u', idempotencyKey: 'k' };
    const results = await Promise.allSettled([1, 2, 3].map(() => admission.createSession(config)));
    expect(results.map((r) => (r as PromiseRejectedResult).reason?.code)).toEqual([
      'capacity',
      'capacity',
      'capacity',
    ]);
    expect(refused).toEqual(['capacity', 'capacity', 'capacity']);
    holder.release();
  });

  it('a joining caller that hangs up is one refusal; the creation goes on for the others', async () => {
    useFakeClock();
    const backend = new HostileBackend();
    backend.plan = () => ({ settleMs: 20, outcome: 'succeed', onAbort: 'honour', closeMs: 0 });
    const admission = new Admission(backend, { maxConcurrentSessions: 1, health: false });
    const refused: string[] = [];
    admission.on('refused', (e) => refused.push(e.code));
    const config = { userId: 'u', idempotencyKey: 'k' };
    const creator = track(admission.createSession(config));
    const joiner = new AbortController();
    const joined = track(admission.createSession(config, { signal: joiner.signal }));
    joiner.abort(new Error('hung up'));
    await settle();
    vi.advanceTimersByTime(20);
    await settle();
    expect(joined.result.error).toBeInstanceOf(AdmissionError);
    expect(refused).toEqual(['aborted']);
    expect(creator.result.status).toBe('fulfilled');
    const closing = creator.result.value!.close();
    vi.advanceTimersByTime(1);
    await closing;
    expect(admission.active).toBe(0);
  });
});
