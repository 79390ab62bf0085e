import { afterEach, describe, expect, it, vi } from 'vitest';
import manifest from '../../package.json' with { type: 'json' };
import type {
  AcquireRequest,
  CapacityStore,
  Lease,
} from '../../src/admission/store/capacity-store.js';
import { memoryStore } from '../../src/admission/store/memory-store.js';
import { Admission } from '../../src/index.js';
import { ControlledBackend } from '../support/controlled-backend.js';
import { useFakeClock } from '../support/fake-clock.js';
import { flush } from '../support/flush.js';
import { type Point, testMeter, valueAt } from '../support/metric-reader.js';

afterEach(() => {
  vi.useRealTimers();
});

/** A memory store that can be made unreachable, to produce `store_unavailable`. */
class FlakyStore implements CapacityStore {
  readonly kind = 'flaky';
  readonly synchronous = true;
  down = false;
  readonly #inner = memoryStore();
  tryAcquire(request: AcquireRequest) {
    if (this.down) throw new Error('store unreachable');
    return this.#inner.tryAcquire(request);
  }
  release(lease: Lease): void {
    this.#inner.release(lease);
  }
  usage() {
    return this.#inner.usage();
  }
}

describe('admission metrics', () => {
  it('hold exactly the expected values after a scripted scenario, and return to zero', async () => {
    useFakeClock();
    const { meterProvider, read } = testMeter();
    const backend = new ControlledBackend();
    await backend.start();
    const store = new FlakyStore();
    const admission = new Admission(backend, {
      maxConcurrentSessions: 2,
      tenants: { defaultMax: 2, max: { capped: 0 } },
      queue: { maxSize: 1, timeoutMs: 1_000 },
      health: { intervalMs: 1_000, timeoutMs: 100 },
      store,
      telemetry: { meterProvider },
    });
    admission.on('store_error', () => undefined);
    const tick = async (ms: number) => {
      vi.advanceTimersByTime(ms);
      await flush();
    };
    await tick(0);
    const complete = async (ok: boolean) => {
      await flush();
      const setup = [...backend.pending.values()][0]!;
      if (ok) setup.succeed();
      else setup.fail();
      await flush();
    };

    // Admit two sessions for tenant a (one setup fails first).
    const failed = admission.createSession({ userId: 'f', tenantId: 'a' }).catch((e: unknown) => e);
    await complete(false);
    await failed;
    const one = admission.createSession({ userId: 'u1', tenantId: 'a', idempotencyKey: 'k' });
    await complete(true);
    const two = admission.createSession({ userId: 'u2', tenantId: 'b' });
    await complete(true);
    const [s1, s2] = await Promise.all([one, two]);
    expect(
      valueAt(await read('voice.backend.active_sessions'), {
        'voice.provider': 'controlled',
        'voice.tenant': 'a',
      }),
    ).toBe(1);
    expect(
      valueAt(await read('voice.backend.capacity.utilization'), {
        'voice.capacity.scope': 'global',
      }),
    ).toBe(1);

    // One refusal of each kind.
    const refuse = (p: Promise<unknown>) => p.catch((e: { code: string }) => e.code);
    const queued = refuse(admission.createSession({ userId: 'q', tenantId: 'c' })); // waits, then times out
    expect(
      valueAt(await read('voice.backend.admission.queue.depth'), { 'voice.tenant': 'c' }),
    ).toBe(1);
    const codes = [
      await refuse(admission.createSession({ userId: 'x', tenantId: 'd' })), // queue_full
      await refuse(admission.createSession({ userId: 'x', tenantId: 'e' }, { timeoutMs: 0 })), // capacity
      await refuse(admission.createSession({ userId: 'x', tenantId: 'a', idempotencyKey: 'k' })), // duplicate
      await refuse(
        admission.createSession({ userId: 'x', tenantId: 'e' }, { signal: AbortSignal.abort() }),
      ), // aborted
    ];
    await tick(1_000);
    codes.push(await queued); // queue_timeout
    await s2.close();
    await flush();
    codes.push(
      await refuse(admission.createSession({ userId: 'x', tenantId: 'capped' }, { timeoutMs: 0 })),
    ); // tenant_capacity
    store.down = true;
    codes.push(await refuse(admission.createSession({ userId: 'x', tenantId: 'e' }))); // store_unavailable
    store.down = false;
    backend.health = { healthy: false, status: 'unhealthy', reason: 'down' };
    await tick(1_000);
    codes.push(await refuse(admission.createSession({ userId: 'x', tenantId: 'e' }))); // unhealthy
    expect(valueAt(await read('voice.backend.health'), { 'voice.provider': 'controlled' })).toBe(0);
    backend.health = { healthy: true, status: 'degraded' };
    await tick(1_000);
    expect(valueAt(await read('voice.backend.health'), { 'voice.provider': 'controlled' })).toBe(
      0.5,
    );
    const drained = admission.drain({ timeoutMs: 100 });
    codes.push(await refuse(admission.createSession({ userId: 'x', tenantId: 'e' }))); // draining
    await tick(100);
    await drained;
    expect(s1.state).toBe('closed');

    expect(codes).toEqual([
      'queue_full',
      'capacity',
      'duplicate',
      'aborted',
      'queue_timeout',
      'tenant_capacity',
      'store_unavailable',
      'unhealthy',
      'draining',
    ]);
    const rejections = await read('voice.backend.admission.rejections');
    for (const [reason, tenant] of [
      ['queue_full', 'd'],
      ['tenant_capacity', 'capped'],
      ['capacity', 'e'],
      ['duplicate', 'a'],
      ['aborted', 'e'],
      ['queue_timeout', 'c'],
      ['store_unavailable', 'e'],
      ['unhealthy', 'e'],
      ['draining', 'e'],
    ]) {
      expect(
        valueAt(rejections, { 'voice.admission.reason': reason!, 'voice.tenant': tenant! }),
        reason,
      ).toBe(1);
    }
    expect(rejections.reduce((n, p) => n + p.value, 0)).toBe(9);

    // Everything is back to zero.
    const active = await read('voice.backend.active_sessions');
    expect(active.map((p) => p.value)).toEqual(active.map(() => 0));
    const depth = await read('voice.backend.admission.queue.depth');
    expect(depth.map((p) => p.value)).toEqual(depth.map(() => 0));

    const wait = await read('voice.backend.admission.queue.wait');
    expect(valueAt(wait, { 'voice.admission.outcome': 'queue_timeout' })).toBe(1);
    expect(
      wait.find((p) => p.attributes['voice.admission.outcome'] === 'queue_timeout')?.sum,
    ).toBeCloseTo(1, 1);
    const created = await read('voice.backend.session.create.duration');
    expect(valueAt(created, { 'voice.provider': 'controlled' })).toBe(2);
    expect(valueAt(created, { 'voice.provider': 'controlled', 'error.type': 'setup_failed' })).toBe(
      1,
    );
  });

  it('come from a meter named and versioned after the package, every instrument with a unit', async () => {
    const { meterProvider, collect } = testMeter();
    const backend = new ControlledBackend({ autoComplete: 'succeed' });
    await backend.start();
    const admission = new Admission(backend, {
      maxConcurrentSessions: 1,
      queue: { maxSize: 1 },
      telemetry: { meterProvider },
    });
    const checked = new Promise((resolve) => admission.on('health', resolve));
    const session = await admission.createSession({ userId: 'u' });
    // Waits in the queue, then times out: a queue wait and a refusal.
    await admission.createSession({ userId: 'v' }, { timeoutMs: 1 }).catch(() => undefined);
    await checked;
    const { resourceMetrics } = await collect();
    const [scope, ...others] = resourceMetrics.scopeMetrics;
    expect(others).toEqual([]);
    expect(scope!.scope).toMatchObject({ name: 'voice-admission', version: manifest.version });
    const units = Object.fromEntries(
      scope!.metrics.map((m) => [m.descriptor.name, m.descriptor.unit]),
    );
    expect(units).toEqual({
      'voice.backend.active_sessions': '{session}',
      'voice.backend.admission.rejections': '{request}',
      'voice.backend.admission.queue.depth': '{request}',
      'voice.backend.admission.queue.wait': 's',
      'voice.backend.session.create.duration': 's',
      'voice.backend.health': '1',
      'voice.backend.capacity.limit': '{session}',
      'voice.backend.capacity.utilization': '1',
    });
    await session.close();
    await admission.drain({ timeoutMs: 0 });
  });

  it('reports the limits in force: global, per tenant and setup concurrency', async () => {
    const { meterProvider, read } = testMeter();
    const admission = new Admission(new ControlledBackend(), {
      maxConcurrentSessions: 10,
      tenants: { max: { acme: 4 } },
      setup: { concurrency: 3 },
      health: false,
      telemetry: { meterProvider },
    });
    const slot = await admission.acquire({ tenantId: 'acme' });
    const limits = await read('voice.backend.capacity.limit');
    expect(valueAt(limits, { 'voice.capacity.scope': 'global' })).toBe(10);
    expect(valueAt(limits, { 'voice.capacity.scope': 'setup' })).toBe(3);
    expect(valueAt(limits, { 'voice.capacity.scope': 'tenant', 'voice.tenant': 'acme' })).toBe(4);
    const utilization = await read('voice.backend.capacity.utilization');
    expect(valueAt(utilization, { 'voice.capacity.scope': 'global' })).toBe(0.1);
    expect(valueAt(utilization, { 'voice.capacity.scope': 'tenant', 'voice.tenant': 'acme' })).toBe(
      0.25,
    );
    admission.setLimits({ maxConcurrentSessions: 20 });
    expect(
      valueAt(await read('voice.backend.capacity.limit'), { 'voice.capacity.scope': 'global' }),
    ).toBe(20);
    slot.release();
  });

  /** Cap 10, tenant `acme` capped at 4, metrics read from a test meter. */
  function acmeCappedAt4() {
    const { meterProvider, read } = testMeter();
    const admission = new Admission(new ControlledBackend(), {
      maxConcurrentSessions: 10,
      tenants: { max: { acme: 4 } },
      health: false,
      telemetry: { meterProvider },
    });
    return { admission, read, acme: { 'voice.capacity.scope': 'tenant', 'voice.tenant': 'acme' } };
  }

  it("reports an idle tenant's cap as it stands, not as 0 (a cap of 0 shuts a tenant out)", async () => {
    const { admission, read, acme } = acmeCappedAt4();
    const slot = await admission.acquire({ tenantId: 'acme' });
    expect(valueAt(await read('voice.backend.capacity.limit'), acme)).toBe(4);
    slot.release();
    expect(valueAt(await read('voice.backend.capacity.limit'), acme)).toBe(4);
    expect(valueAt(await read('voice.backend.capacity.utilization'), acme)).toBe(0);
    admission.setTenantLimit('acme', 0);
    expect(valueAt(await read('voice.backend.capacity.limit'), acme)).toBe(0);
    expect(valueAt(await read('voice.backend.capacity.utilization'), acme)).toBe(1);
    admission.setTenantLimit('acme', 6);
    expect(valueAt(await read('voice.backend.capacity.limit'), acme)).toBe(6);
    await admission.drain();
    expect(valueAt(await read('voice.backend.capacity.limit'), acme)).toBe(0);
  });

  it('reports what an uncapped tenant may hold once its own cap is removed, not 0', async () => {
    const { admission, read, acme } = acmeCappedAt4();
    const slot = await admission.acquire({ tenantId: 'acme' });
    expect(valueAt(await read('voice.backend.capacity.limit'), acme)).toBe(4);
    // Back to the default, no cap of its own: the global cap is all that bounds it.
    admission.setTenantLimit('acme', undefined);
    expect(admission.tenantLimit('acme')).toBe(Number.POSITIVE_INFINITY);
    expect(valueAt(await read('voice.backend.capacity.limit'), acme)).toBe(10);
    expect(valueAt(await read('voice.backend.capacity.utilization'), acme)).toBe(0.1);
    slot.release();
    expect(valueAt(await read('voice.backend.capacity.limit'), acme)).toBe(10);
    expect(valueAt(await read('voice.backend.capacity.utilization'), acme)).toBe(0);
    admission.setLimits({ maxConcurrentSessions: 20 });
    expect(valueAt(await read('voice.backend.capacity.limit'), acme)).toBe(20);
    admission.setTenantLimit('acme', 3);
    expect(valueAt(await read('voice.backend.capacity.limit'), acme)).toBe(3);
    await admission.drain();
    expect(valueAt(await read('voice.backend.capacity.limit'), acme)).toBe(0);
  });

  it('reports capacity and utilization as 0 once the admission is drained, not their last values', async () => {
    const { meterProvider, read } = testMeter();
    const admission = new Admission(new ControlledBackend(), {
      maxConcurrentSessions: 4,
      tenants: { max: { acme: 2 } },
      setup: { concurrency: 3 },
      health: false,
      telemetry: { meterProvider },
    });
    const slot = await admission.acquire({ tenantId: 'acme' });
    const values = async (name: string) => (await read(name)).map((p) => p.value).sort();
    expect(await values('voice.backend.capacity.limit')).toEqual([2, 3, 4]);
    expect(await values('voice.backend.capacity.utilization')).toEqual([0.25, 0.5]);
    slot.release();
    await admission.drain();
    expect(await values('voice.backend.capacity.limit')).toEqual([0, 0, 0]);
    expect(await values('voice.backend.capacity.utilization')).toEqual([0, 0]);
  });

  it('bounds tenant cardinality: 10,000 distinct tenant ids make at most maxTenants + 1 series', async () => {
    const { meterProvider, read } = testMeter();
    const admission = new Admission(new ControlledBackend(), {
      maxConcurrentSessions: 20_000,
      tenants: { defaultMax: 1 },
      health: false,
      telemetry: { meterProvider, maxTenants: 20 },
    });
    const slots = [];
    for (let i = 0; i < 10_000; i++) {
      slots.push(await admission.acquire({ tenantId: `tenant-${i}` }));
      await admission.acquire({ tenantId: `tenant-${i}` }, { timeoutMs: 0 }).catch(() => undefined);
    }
    const active = await read('voice.backend.active_sessions');
    const rejections = await read('voice.backend.admission.rejections');
    for (const points of [active, rejections]) {
      const tenants = new Set(points.map((p) => p.attributes['voice.tenant']));
      expect(tenants.size).toBe(21);
      expect(tenants.has('other')).toBe(true);
    }
    expect(valueAt(active, { 'voice.provider': 'controlled', 'voice.tenant': 'other' })).toBe(
      9_980,
    );
    expect(valueAt(active, { 'voice.provider': 'controlled', 'voice.tenant': 'tenant-0' })).toBe(1);
    expect(
      valueAt(rejections, { 'voice.admission.reason': 'tenant_capacity', 'voice.tenant': 'other' }),
    ).toBe(9_980);
    for (const slot of slots) slot.release();
    const after = await read('voice.backend.active_sessions');
    expect(after).toHaveLength(21);
    expect(after.every((p) => p.value === 0)).toBe(true);
  });

  it('bounds error.type: a backend error with a code of its own making counts as internal', async () => {
    const { meterProvider, read } = testMeter();
    const backend = new ControlledBackend();
    await backend.start();
    const admission = new Admission(backend, {
      maxConcurrentSessions: 10,
      health: false,
      telemetry: { meterProvider },
    });
    // A backend of the user's whose errors look like ours, with a code per room.
    vi.spyOn(backend, 'createSession').mockImplementation(async () => {
      throw Object.assign(new Error('no room'), {
        name: 'BackendError',
        code: `room-${Math.random()}`,
      });
    });
    for (let i = 0; i < 5; i++) await admission.createSession({ userId: 'u' }).catch(() => {});
    const failures = await read('voice.backend.session.create.duration');
    expect(failures.map((p) => p.attributes['error.type'])).toEqual(['internal']);
    expect(failures[0]!.value).toBe(5);
  });

  it('adds up admissions sharing a meter provider, and counters never go down when one is replaced', async () => {
    const { meterProvider, read } = testMeter();
    const backend = new ControlledBackend({ autoComplete: 'succeed' });
    await backend.start();
    const create = () =>
      new Admission(backend, {
        maxConcurrentSessions: 1,
        queue: { maxSize: 0 },
        health: false,
        telemetry: { meterProvider },
      });
    const active = { 'voice.provider': 'controlled', 'voice.tenant': 't' };
    const refused = { 'voice.admission.reason': 'capacity', 'voice.tenant': 't' };
    const first = create();
    const second = create();
    const held = [await first.acquire({ tenantId: 't' }), await second.acquire({ tenantId: 't' })];
    for (let i = 0; i < 3; i++) await first.acquire({ tenantId: 't' }).catch(() => undefined);
    await second.acquire({ tenantId: 't' }).catch(() => undefined);
    expect(valueAt(await read('voice.backend.active_sessions'), active)).toBe(2);
    expect(valueAt(await read('voice.backend.admission.rejections'), refused)).toBe(4);

    held[0]!.release();
    await first.drain({ timeoutMs: 0 });
    const third = create();
    held.push(await third.acquire({ tenantId: 't' }));
    await third.acquire({ tenantId: 't' }).catch(() => undefined);
    expect(valueAt(await read('voice.backend.active_sessions'), active)).toBe(2);
    expect(valueAt(await read('voice.backend.admission.rejections'), refused)).toBe(5);

    held[1]!.release();
    held[2]!.release();
    await second.drain({ timeoutMs: 0 });
    await third.drain({ timeoutMs: 0 });
    expect(await read('voice.backend.active_sessions')).toEqual([
      expect.objectContaining({ attributes: active, value: 0 }),
    ]);
    expect(valueAt(await read('voice.backend.admission.rejections'), refused)).toBe(5);
  });

  it('reports a tenant called other with the folded ones: it takes no place and has no limit of its own', async () => {
    const { meterProvider, read } = testMeter();
    const admission = new Admission(new ControlledBackend(), {
      maxConcurrentSessions: 10,
      tenants: { defaultMax: 5 },
      health: false,
      telemetry: { meterProvider, maxTenants: 2 },
    });
    const slots = [];
    for (const tenantId of ['other', 'x', 'y', 'z'])
      slots.push(await admission.acquire({ tenantId }));
    const tenants = (points: readonly Point[]) =>
      points.map((p) => p.attributes['voice.tenant']).sort();
    expect(tenants(await read('voice.backend.active_sessions'))).toEqual(['other', 'x', 'y']);
    expect(
      valueAt(await read('voice.backend.active_sessions'), {
        'voice.provider': 'controlled',
        'voice.tenant': 'other',
      }),
    ).toBe(2);
    expect(tenants(await read('voice.backend.capacity.limit'))).toEqual(['x', 'y', undefined]);
    for (const slot of slots) slot.release();
  });

  it('telemetry: false attaches nothing', async () => {
    const { meterProvider, read } = testMeter();
    const { metrics } = await import('@opentelemetry/api');
    metrics.setGlobalMeterProvider(meterProvider);
    try {
      const admission = new Admission(new ControlledBackend(), {
        maxConcurrentSessions: 1,
        health: false,
        telemetry: false,
      });
      (await admission.acquire()).release();
      expect(await read('voice.backend.active_sessions')).toEqual([]);
      expect(await read('voice.backend.capacity.limit')).toEqual([]);
    } finally {
      metrics.disable();
    }
  });

  it('validates its options', () => {
    expect(
      () =>
        new Admission(new ControlledBackend(), {
          maxConcurrentSessions: 1,
          telemetry: { maxTenants: -1 },
        }),
    ).toThrow(/options.telemetry.maxTenants: must be >= 0, got -1/);
    expect(
      () =>
        new Admission(new ControlledBackend(), {
          maxConcurrentSessions: 1,
          telemetry: { meterProvider: {} as never },
        }),
    ).toThrow(/options.telemetry.meterProvider: must be a MeterProvider/);
    for (const [field, kind] of [
      ['meterProvider', 'MeterProvider'],
      ['tracerProvider', 'TracerProvider'],
    ] as const) {
      expect(
        () =>
          new Admission(new ControlledBackend(), {
            maxConcurrentSessions: 1,
            telemetry: { [field]: null as never },
          }),
      ).toThrow(`options.telemetry.${field}: must be a ${kind}, got null`);
    }
  });
});
