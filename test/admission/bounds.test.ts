import { afterEach, describe, expect, it, vi } from 'vitest';
import { adaptive } from '../../src/admission/adaptive/adaptive-limit.js';
import { Admission } from '../../src/admission/admission.js';
import { memoryStore } from '../../src/admission/store/memory-store.js';
import { ConfigError } from '../../src/iface/errors.js';
import { admissionFor, createSessionWithLimit } from '../../src/index.js';
import { useFakeClock } from '../support/fake-clock.js';
import { settle, track } from '../support/flush.js';
import { HostileBackend } from '../support/hostile-backend.js';

afterEach(() => {
  vi.useRealTimers();
});

const TOO_LONG = 3e9; // above 2^31-1 ms: Node.js would fire it after 1 ms

describe('timer values are bounded', () => {
  it.each([
    ['setup.timeoutMs', { setup: { timeoutMs: TOO_LONG } }, /must be <= 2147483647 ms/],
    ['queue.timeoutMs', { queue: { timeoutMs: TOO_LONG } }, /must be <= 2147483647 ms/],
    ['health.intervalMs', { health: { intervalMs: TOO_LONG } }, /must be <= 2147483647 ms/],
    // No Infinity where none is documented: a health check needs its timer.
    ['health.intervalMs', { health: { intervalMs: Number.POSITIVE_INFINITY } }, /must be finite/],
  ])('refuses a too long options.%s at construction, naming it', (field, extra, message) => {
    const construct = () =>
      new Admission(new HostileBackend(), { maxConcurrentSessions: 1, ...extra });
    expect(construct).toThrow(message);
    expect(construct).toThrow(`options.${field}:`);
  });

  it('refuses them per call and per drain', async () => {
    const admission = new Admission(new HostileBackend(), {
      maxConcurrentSessions: 1,
      health: false,
    });
    await expect(admission.acquire({}, { timeoutMs: TOO_LONG })).rejects.toThrow(
      /options.timeoutMs: must be <= 2147483647 ms or Infinity, got 3000000000/,
    );
    await expect(admission.createSession({ userId: 'u' }, { timeoutMs: TOO_LONG })).rejects.toThrow(
      /options.timeoutMs: must be <= 2147483647 ms/,
    );
    await expect(admission.drain({ timeoutMs: TOO_LONG })).rejects.toThrow(
      /options.timeoutMs: must be <= 2147483647 ms/,
    );
    await expect(admission.drain({ closeTimeoutMs: TOO_LONG })).rejects.toThrow(
      /options.closeTimeoutMs: must be <= 2147483647 ms/,
    );
  });

  it('setup.timeoutMs: Infinity sets no timer: a slow setup is not cut short', async () => {
    useFakeClock();
    const backend = new HostileBackend();
    backend.plan = () => ({ settleMs: 40_000, outcome: 'succeed', onAbort: 'honour', closeMs: 0 });
    const admission = new Admission(backend, {
      maxConcurrentSessions: 1,
      setup: { timeoutMs: Number.POSITIVE_INFINITY, concurrency: 1 },
      health: false,
    });
    const timers = vi.getTimerCount();
    const request = track(admission.createSession({ userId: 'u' }));
    await settle();
    expect(vi.getTimerCount()).toBe(timers + 1); // the backend's own, no setup timer
    vi.advanceTimersByTime(39_999);
    await settle();
    expect(request.result.status).toBe('pending');
    vi.advanceTimersByTime(1);
    await settle();
    expect(request.result.status).toBe('fulfilled');
  });

  it('drain timeoutMs: Infinity waits for every slot, with no timer', async () => {
    const admission = new Admission(new HostileBackend(), {
      maxConcurrentSessions: 1,
      health: false,
    });
    const slot = await admission.acquire();
    const timers = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const drained = track(admission.drain({ timeoutMs: Number.POSITIVE_INFINITY }));
    expect(process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length).toBe(timers);
    await settle();
    expect(drained.result.status).toBe('pending');
    slot.release();
    await settle();
    expect(drained.result.value).toMatchObject({ timedOut: false, stillActive: 0 });
  });
});

describe('tenant ids are checked where every store would refuse them', () => {
  it.each([42, '', 'a\nb', 'a\u0000b', undefined])('setTenantLimit refuses %j', (tenantId) => {
    const admission = new Admission(new HostileBackend(), {
      maxConcurrentSessions: 1,
      health: false,
    });
    expect(() => admission.setTenantLimit(tenantId as never, 1)).toThrow(ConfigError);
  });

  it('the memory store refuses a tenant id with control characters, as the Redis store does', () => {
    const store = memoryStore();
    expect(() =>
      store.tryAcquire({ tenantId: 'a\u0001b', globalLimit: 1, tenantLimit: 1 }),
    ).toThrow(/tenantId: must not contain control characters/);
    expect(() => store.tryAcquire({ tenantId: '', globalLimit: 1, tenantLimit: 1 })).toThrow(
      /tenantId: must be a non-empty string/,
    );
  });

  it.each([
    ['a C1 control (8-bit CSI)', 'a\u009b31mb'],
    ['NEL', 'a\u0085b'],
    ['a lone high surrogate', 'a\ud800b'],
    ['a lone low surrogate', 'a\udc00b'],
    ['two high surrogates', '\ud800\ud800'],
    ['a high surrogate at the end', 'ab\ud83d'],
  ])('ids with %s are refused: encoded, they would become another id', async (_, id) => {
    const admission = new Admission(new HostileBackend(), {
      maxConcurrentSessions: 1,
      health: false,
    });
    await expect(admission.createSession({ userId: id })).rejects.toThrow(
      /sessionConfig.userId: must not contain control characters or lone surrogates/,
    );
    await expect(admission.createSession({ userId: 'u', idempotencyKey: id })).rejects.toThrow(
      ConfigError,
    );
    await expect(admission.acquire({ tenantId: id })).rejects.toThrow(
      /request.tenantId: must be free of control characters and lone surrogates/,
    );
    expect(() =>
      memoryStore().tryAcquire({ tenantId: id, globalLimit: 1, tenantLimit: 1 }),
    ).toThrow(ConfigError);
    expect(admission.stats().active).toBe(0);
  });

  it('a refused id is quoted shortened: a long one is not echoed whole into the error', async () => {
    const admission = new Admission(new HostileBackend(), {
      maxConcurrentSessions: 1,
      health: false,
    });
    const id = `${'x'.repeat(100_000)}\u0000`;
    const quoted = `got "${'x'.repeat(57)}..."`;
    // Past its length bound, a user id is refused for that before its characters are read.
    await expect(admission.createSession({ userId: id })).rejects.toThrow(
      `sessionConfig.userId: must be at most 256 characters, ${quoted}`,
    );
    await expect(admission.createSession({ userId: `x${id.slice(-1)}` })).rejects.toThrow(
      'sessionConfig.userId: must not contain control characters or lone surrogates, got "x',
    );
    expect(() =>
      memoryStore().tryAcquire({ tenantId: id, globalLimit: 1, tenantLimit: 1 }),
    ).toThrow(`tenantId: must not contain control characters or lone surrogates, ${quoted}`);
  });

  it('ids with characters outside the BMP (surrogate pairs) are taken', async () => {
    const admission = new Admission(new HostileBackend(), {
      maxConcurrentSessions: 1,
      health: false,
    });
    const slot = await admission.acquire({ tenantId: 'caf\u00e9-\ud83d\ude00' });
    expect(slot.tenantId).toBe('café-😀');
    slot.release();
  });

  it('tenant ids are at most 128 characters everywhere one is named, as the gateway takes them', async () => {
    const admission = new Admission(new HostileBackend(), {
      maxConcurrentSessions: 2,
      health: false,
    });
    const long = 'x'.repeat(129);
    const refused = /must be at most 128 characters, got "x{57}\.\.\."/;
    await expect(admission.createSession({ userId: 'u', tenantId: long })).rejects.toThrow(refused);
    await expect(admission.acquire({ tenantId: long })).rejects.toThrow(refused);
    await expect(admission.run({ tenantId: long }, () => 1)).rejects.toThrow(refused);
    expect(() => admission.tryAcquire({ tenantId: long })).toThrow(refused);
    expect(() => admission.setTenantLimit(long, 1)).toThrow(refused);
    expect(() => admission.observeLatency(1, { tenantId: long })).toThrow(refused);
    expect(
      () =>
        new Admission(new HostileBackend(), {
          maxConcurrentSessions: 1,
          tenants: { max: { [long]: 1 } },
        }),
    ).toThrow(refused);
    expect(admission.stats().active).toBe(0);
    // Characters, not UTF-16 units: 128 emoji are 256 units and one id.
    const slots = await Promise.all([
      admission.acquire({ tenantId: 'x'.repeat(128) }),
      admission.acquire({ tenantId: '\u{1f600}'.repeat(128) }),
    ]);
    for (const slot of slots) slot.release();
  });

  it('raw slot requests and tenant caps refuse them too', async () => {
    const admission = new Admission(new HostileBackend(), {
      maxConcurrentSessions: 1,
      health: false,
    });
    await expect(admission.acquire({ tenantId: 'a\nb' })).rejects.toThrow(
      /request.tenantId: must be free of control characters/,
    );
    expect(() => admission.tryAcquire({ tenantId: 'a\tb' })).toThrow(ConfigError);
    expect(
      () =>
        new Admission(new HostileBackend(), {
          maxConcurrentSessions: 1,
          tenants: { max: { 'a\rb': 1 } },
        }),
    ).toThrow(/options.tenants.max: must not contain control characters/);
  });
});

describe('the session cap', () => {
  it('refuses values a counter cannot count to exactly', () => {
    expect(() => new Admission(new HostileBackend(), { maxConcurrentSessions: 2 ** 53 })).toThrow(
      /options.maxConcurrentSessions: must be <= 9007199254740991/,
    );
    const admission = new Admission(new HostileBackend(), {
      maxConcurrentSessions: 1,
      health: false,
    });
    expect(() => admission.setLimits({ maxConcurrentSessions: 2 ** 60 })).toThrow(
      /update.maxConcurrentSessions: must be <= 9007199254740991/,
    );
  });

  it("defaults to the backend config's maxConcurrentSessions, as the Go pattern reads it", async () => {
    const backend = new HostileBackend({ maxConcurrentSessions: 2 });
    const admission = new Admission(backend, { health: false });
    expect(admission.maxConcurrentSessions).toBe(2);
    await admission.acquire();
    await admission.acquire();
    await expect(admission.acquire()).rejects.toMatchObject({ code: 'capacity' });
    // Explicit options win.
    expect(new Admission(backend, { maxConcurrentSessions: 7 }).maxConcurrentSessions).toBe(7);
    expect(() => new Admission(new HostileBackend({ maxConcurrentSessions: 0 }), {})).toThrow(
      /backend.config.maxConcurrentSessions: must be >= 1, got 0/,
    );
    expect(() => new Admission(new HostileBackend(), {})).toThrow(
      /options.maxConcurrentSessions: is required \(or set maxConcurrentSessions in the backend config\)/,
    );
  });

  it('createSessionWithLimit compares the hard cap, not the adaptive limit', async () => {
    const backend = new HostileBackend();
    await createSessionWithLimit(
      backend,
      { userId: 'first' },
      {
        maxConcurrentSessions: 50,
        limit: adaptive({ min: 2, max: 100, initial: 4 }),
        health: false,
        telemetry: false,
      },
    );
    const admission = admissionFor(backend)!;
    const setLimits = vi.spyOn(admission, 'setLimits');
    await createSessionWithLimit(backend, { userId: 'second' }, 50);
    expect(setLimits).not.toHaveBeenCalled();
    await createSessionWithLimit(backend, { userId: 'third' }, 60);
    expect(setLimits).toHaveBeenCalledWith({ maxConcurrentSessions: 60 });
    expect(admission.maxConcurrentSessions).toBe(60);
  });
});
