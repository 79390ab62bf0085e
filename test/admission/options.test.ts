import { describe, expect, it } from 'vitest';
import { Admission } from '../../src/admission/admission.js';
import { ConfigError } from '../../src/iface/errors.js';
import {
  admissionFor,
  createSessionWithLimit,
  Admission as EntryAdmission,
} from '../../src/index.js';
import { ControlledBackend } from '../support/controlled-backend.js';

const backend = new ControlledBackend();

function construct(options: unknown): () => Admission {
  return () => new Admission(backend, options as never);
}

describe('Admission options are validated at construction', () => {
  it.each([
    [undefined, /options: are required/],
    [{}, /options.maxConcurrentSessions: is required/],
    [{ maxConcurrentSessions: 0 }, /options.maxConcurrentSessions: must be >= 1, got 0/],
    [{ maxConcurrentSessions: -5 }, /options.maxConcurrentSessions: must be >= 1, got -5/],
    [{ maxConcurrentSessions: 2.5 }, /options.maxConcurrentSessions: must be an integer, got 2.5/],
    [
      { maxConcurrentSessions: Number.NaN },
      /options.maxConcurrentSessions: must be a number, got NaN/,
    ],
    [
      { maxConcurrentSessions: Number.POSITIVE_INFINITY },
      /options.maxConcurrentSessions: must be finite, got Infinity/,
    ],
    [{ maxConcurrentSessions: '10' }, /options.maxConcurrentSessions: must be a number, got "10"/],
    [
      { maxConcurrentSessions: 10, queue: { maxSize: -1 } },
      /options.queue.maxSize: must be >= 0, got -1/,
    ],
    [
      { maxConcurrentSessions: 10, queue: { timeoutMs: 0 } },
      /options.queue.timeoutMs: must be >= 1, got 0/,
    ],
    [
      { maxConcurrentSessions: 10, queue: { size: 5 } },
      /options.queue.size: unknown option \(known: maxSize, maxPerTenant, timeoutMs\)/,
    ],
    [
      { maxConcurrentSessions: 10, tenants: { defaultMax: 0 } },
      /options.tenants.defaultMax: must be >= 1, got 0/,
    ],
    [
      { maxConcurrentSessions: 10, tenants: { max: { acme: 1.5 } } },
      /options.tenants.max.acme: must be an integer, got 1.5/,
    ],
    [
      { maxConcurrentSessions: 10, tenants: { max: [] } },
      /options.tenants.max: must be an object, got an array/,
    ],
    [
      // Its entries are no properties: it would read as no caps at all.
      { maxConcurrentSessions: 10, tenants: { max: new Map([['acme', 1]]) } },
      /options.tenants.max: must be an object, got a Map/,
    ],
    [
      { maxConcurrentSessions: 10, queue: new Map([['maxSize', 5]]) },
      /options.queue: must be an object, got a Map/,
    ],
    [
      { maxConcurrentSessions: 10, setup: { concurrency: 0 } },
      /options.setup.concurrency: must be >= 1, got 0/,
    ],
    [
      { maxConcurrentSessions: 10, setup: { perSecond: -1 } },
      /options.setup.perSecond: must be >= 0.001, got -1/,
    ],
    [
      { maxConcurrentSessions: 10, health: true },
      /options.health: must be an object or false, got true/,
    ],
    [
      { maxConcurrentSessions: 10, health: { intervalMs: 1_000, timeoutMs: 5_000 } },
      /options.health.timeoutMs: must be <= 1000, got 5000/,
    ],
    [{ maxConcurrentSessions: 10, store: {} }, /options.store: must be a CapacityStore/],
    [
      { maxConcurrentSessions: 10, tracer: { start() {} } },
      /options.tracer: must implement startAdmission\(\)/,
    ],
    [{ maxConcurrentSessions: 10, maxSessions: 3 }, /options.maxSessions: unknown option/],
  ])('%j throws a ConfigError naming the field', (options, message) => {
    expect(construct(options)).toThrow(ConfigError);
    expect(construct(options)).toThrow(message);
  });

  it('refuses an array or an object that inherits its fields, from either entry point', () => {
    class Options {
      maxConcurrentSessions = 3;
    }
    const refused: [unknown, RegExp][] = [
      [[], /^options: must be an object, got an array$/],
      [Object.create({ maxConcurrentSessions: 3 }), /^options: must be a plain object/],
      [new Options(), /^options: must be a plain object/],
      [
        { maxConcurrentSessions: 3, queue: Object.create({ maxSize: 5 }) },
        /^options.queue: must be a plain object/,
      ],
      [
        { maxConcurrentSessions: 3, tenants: { max: Object.create({ acme: 0 }) } },
        /^options.tenants.max: must be a plain object/,
      ],
    ];
    for (const [options, message] of refused) {
      expect(construct(options)).toThrow(message);
      expect(() => new EntryAdmission(backend, options as never)).toThrow(message);
    }
    // Without a prototype, every field is its own.
    const bare = Object.assign(Object.create(null), { maxConcurrentSessions: 3, telemetry: false });
    expect(new EntryAdmission(backend, bare).maxConcurrentSessions).toBe(3);
    const admission = construct({ maxConcurrentSessions: 3 })();
    expect(() => admission.setLimits(Object.create({ maxConcurrentSessions: 1 }))).toThrow(
      /^update: must be a plain object/,
    );
  });

  it('accepts Infinity where it means "no limit"', () => {
    const admission = new Admission(backend, {
      maxConcurrentSessions: 5,
      tenants: { defaultMax: Number.POSITIVE_INFINITY },
      queue: { maxSize: 10, timeoutMs: Number.POSITIVE_INFINITY },
      setup: { concurrency: Number.POSITIVE_INFINITY, perSecond: Number.POSITIVE_INFINITY },
      health: false,
    });
    expect(admission.limit).toBe(5);
  });

  it('takes an option set to undefined as absent, as its type says', async () => {
    const admission = new Admission(backend, {
      maxConcurrentSessions: 3,
      limit: undefined,
      tenants: { defaultMax: undefined, max: undefined },
      queue: { maxSize: undefined, maxPerTenant: undefined, timeoutMs: undefined },
      setup: { concurrency: undefined, perSecond: undefined, timeoutMs: undefined },
      health: { intervalMs: undefined, timeoutMs: undefined, failureThreshold: undefined },
      store: undefined,
      tracer: undefined,
      telemetry: undefined,
    });
    admission.setLimits({ maxConcurrentSessions: undefined, tenants: undefined });
    expect(admission.limit).toBe(3);
    await expect(
      admission.drain({ timeoutMs: undefined, closeTimeoutMs: undefined }),
    ).resolves.toMatchObject({ timedOut: false });
  });

  it('rejects a non-backend', () => {
    expect(() => new Admission({} as never, { maxConcurrentSessions: 1 })).toThrow(
      /backend: must be a VoiceBackend, got an object/,
    );
  });

  it('rejects a backend whose checkSessionConfig is set but not a function', () => {
    const careless = Object.assign(new ControlledBackend(), {
      checkSessionConfig: { maxUserIdBytes: 64 },
    });
    expect(() => new Admission(careless as never, { maxConcurrentSessions: 1 })).toThrow(
      /backend.checkSessionConfig: must be a function when set, got an object/,
    );
  });

  it('rejects bad per-call options before reserving anything', async () => {
    const admission = new Admission(backend, { maxConcurrentSessions: 1, health: false });
    await expect(admission.acquire({}, { timeoutMs: -1 })).rejects.toThrow(
      /options.timeoutMs: must be a number >= 0, got -1/,
    );
    await expect(admission.acquire({ tenantId: '' })).rejects.toThrow(
      /request.tenantId: must be a non-empty string, got ""/,
    );
    await expect(admission.acquire({ priority: 0.5 })).rejects.toThrow(
      /request.priority: must be an integer/,
    );
    await expect(admission.acquire({}, { signal: 'nope' } as never)).rejects.toThrow(
      /options.signal: must be an AbortSignal/,
    );
    await expect(admission.createSession({ userId: 'u' }, { retries: 3 } as never)).rejects.toThrow(
      /options.retries: unknown option/,
    );
    expect(admission.active).toBe(0);
  });

  it('names a request or options that is not an object, rejecting where the call is async', async () => {
    const admission = new Admission(backend, { maxConcurrentSessions: 1, health: false });
    const work = () => 'done';
    const calls: [string, () => Promise<unknown>][] = [
      ['request', () => admission.acquire(null as never)],
      ['request', () => admission.acquire('acme' as never)],
      ['options', () => admission.acquire({}, null as never)],
      ['request', () => admission.run(null as never, work)],
      ['options', () => admission.run({}, work, null as never)],
    ];
    for (const [field, call] of calls) {
      await expect(call()).rejects.toMatchObject({
        name: 'ConfigError',
        message: expect.stringMatching(new RegExp(`^${field}: must be an object, got `)),
      });
    }
    expect(() => admission.tryAcquire(null as never)).toThrow(
      /^request: must be an object, got null$/,
    );
    expect(admission.active).toBe(0);
  });

  it('createSessionWithLimit validates its limit argument', async () => {
    await expect(createSessionWithLimit(backend, { userId: 'u' }, 0)).rejects.toThrow(
      /options.maxConcurrentSessions: must be >= 1, got 0/,
    );
    await expect(createSessionWithLimit(backend, { userId: 'u' }, 'ten' as never)).rejects.toThrow(
      /maxOrOptions: must be a number or AdmissionOptions/,
    );
    for (const options of [[], Object.create({ maxConcurrentSessions: 3 })]) {
      await expect(createSessionWithLimit(backend, { userId: 'u' }, options)).rejects.toThrow(
        /^maxOrOptions: must be (an|a plain) object/,
      );
    }
  });

  it('createSessionWithLimit names a bad limit on a later call as on the first', async () => {
    const later = new ControlledBackend({ autoComplete: 'succeed' });
    await later.start();
    const session = await createSessionWithLimit(later, { userId: 'u' }, 2);
    await expect(createSessionWithLimit(later, { userId: 'u' }, 0)).rejects.toThrow(
      /^options.maxConcurrentSessions: must be >= 1, got 0/,
    );
    await expect(
      createSessionWithLimit(
        later,
        { userId: 'u' },
        {
          maxConcurrentSessions: 2,
          tenants: { defaultMax: -1 },
        },
      ),
    ).rejects.toThrow(/^options.tenants.defaultMax: must be >= 1/);
    await session.close();
    await later.stop();
  });
  it("createSessionWithLimit refuses a later call's bad options as it would the first call's", async () => {
    const later = new ControlledBackend({ autoComplete: 'succeed' });
    await later.start();
    const session = await createSessionWithLimit(later, { userId: 'u' }, 2);
    for (const [options, message] of [
      [{ maxConcurentSessions: 2 }, /^options.maxConcurentSessions: unknown option/],
      [
        { maxConcurrentSessions: 2, queue: { maxSize: -1 } },
        /^options.queue.maxSize: must be >= 0/,
      ],
      [{ setup: { concurency: 5 } }, /^options.setup.concurency: unknown option/],
      [{ health: true }, /^options.health: must be an object or false/],
    ] as const) {
      await expect(
        createSessionWithLimit(later, { userId: 'u' }, options as never),
      ).rejects.toThrow(message);
    }
    // Valid options that are not caps are still the first call's: accepted, not applied.
    const again = await createSessionWithLimit(
      later,
      { userId: 'u' },
      { queue: { maxSize: 5 }, telemetry: {} },
    );
    expect(admissionFor(later)?.maxConcurrentSessions).toBe(2);
    await again.close();
    await session.close();
    await later.stop();
  });
});
