import { describe, expect, it } from 'vitest';
import { adaptive } from '../../../src/admission/adaptive/adaptive-limit.js';
import { Admission } from '../../../src/admission/admission.js';
import type { Slot } from '../../../src/admission/gate/slot.js';
import type { AdmissionOptions } from '../../../src/admission/options.js';
import { memoryStore } from '../../../src/admission/store/memory-store.js';
import { ConfigError } from '../../../src/iface/errors.js';
import { ControlledBackend } from '../../support/controlled-backend.js';

const backend = new ControlledBackend();

function admission(options: AdmissionOptions): Admission {
  return new Admission(backend, { health: false, ...options });
}

function refusal(build: () => unknown): ConfigError {
  try {
    build();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

function isSlot(value: unknown): value is Slot {
  return typeof (value as Slot).release === 'function';
}

describe('a memory store shared by two Admissions', () => {
  it('gives them one cap when they pass the same limits', () => {
    const store = memoryStore();
    const limits = { maxConcurrentSessions: 2, tenants: { defaultMax: 2, max: { acme: 1 } } };
    const a = admission({ ...limits, store });
    const b = admission({ ...limits, store });
    expect(isSlot(a.tryAcquire({ tenantId: 't' }))).toBe(true);
    expect(isSlot(b.tryAcquire({ tenantId: 'u' }))).toBe(true);
    expect(a.tryAcquire({ tenantId: 'v' })).toMatchObject({ code: 'capacity' });
    expect(b.tryAcquire({ tenantId: 'v' })).toMatchObject({ code: 'capacity' });
  });

  it.each([
    [
      { maxConcurrentSessions: 20 },
      'options.maxConcurrentSessions: is 20, but the memoryStore() it is given counts for ' +
        'another Admission whose maxConcurrentSessions is 10',
    ],
    [
      { maxConcurrentSessions: 10, tenants: { defaultMax: 3 } },
      'options.tenants.defaultMax: is 3, but the memoryStore() it is given counts for another ' +
        'Admission whose tenants.defaultMax is 5',
    ],
    [
      { maxConcurrentSessions: 10, tenants: { defaultMax: 5 } },
      'options.tenants.max.acme: is not set, but the memoryStore() it is given counts for ' +
        'another Admission whose tenants.max.acme is 0',
    ],
    [
      // As JSON gives it: __proto__ is an own key, a tenant like any other.
      JSON.parse(
        '{"maxConcurrentSessions":10,"tenants":{"defaultMax":5,"max":{"acme":0,"__proto__":2}}}',
      ),
      'options.tenants.max.__proto__: is 2, but the memoryStore() it is given counts for ' +
        'another Admission whose tenants.max.__proto__ is not set',
    ],
  ])('refuses a second one with other caps %j, naming both values', (other, message) => {
    const store = memoryStore();
    admission({ maxConcurrentSessions: 10, tenants: { defaultMax: 5, max: { acme: 0 } }, store });
    const error = refusal(() => admission({ ...(other as AdmissionOptions), store }));
    expect(error.message).toContain(message);
  });

  it('names Infinity as no cap, and leaves a refused Admission nothing claimed', () => {
    const store = memoryStore();
    admission({ maxConcurrentSessions: 10, store });
    const limit = adaptive({ min: 1, max: 10 });
    expect(
      refusal(() => admission({ maxConcurrentSessions: 10, tenants: { defaultMax: 4 }, store }))
        .message,
    ).toContain(
      'is 4, but the memoryStore() it is given counts for another Admission whose tenants.defaultMax is Infinity (no cap)',
    );
    refusal(() => admission({ maxConcurrentSessions: 9, limit, store }));
    // The adaptive limit was not taken by the refused Admission: another may use it.
    expect(() => admission({ maxConcurrentSessions: 10, limit, store })).not.toThrow();
  });

  it('lets each keep its own adaptive limit under the shared cap', () => {
    const store = memoryStore();
    admission({
      maxConcurrentSessions: 10,
      limit: adaptive({ min: 1, max: 10, initial: 3 }),
      store,
    });
    const b = admission({ maxConcurrentSessions: 10, limit: adaptive({ min: 1, max: 10 }), store });
    expect(b.maxConcurrentSessions).toBe(10);
  });

  it('applies setLimits() and setTenantLimit() on either to both, and lets the other waiters in', async () => {
    const store = memoryStore();
    const a = admission({ maxConcurrentSessions: 1, queue: { maxSize: 5 }, store });
    const b = admission({ maxConcurrentSessions: 1, queue: { maxSize: 5 }, store });
    const held = a.tryAcquire();
    expect(isSlot(held)).toBe(true);
    const waiting = b.acquire({ tenantId: 'w' });
    const limits: unknown[] = [];
    b.on('limits', (event) => limits.push(event));

    a.setLimits({ maxConcurrentSessions: 2, tenants: { defaultMax: 3 } });
    expect(b.maxConcurrentSessions).toBe(2);
    expect(b.tenantLimit('anyone')).toBe(3);
    expect(limits).toEqual([expect.objectContaining({ maxConcurrentSessions: 2 })]);
    const slot = await waiting;
    expect(slot.tenantId).toBe('w');

    b.setTenantLimit('acme', 0);
    expect(a.tenantLimit('acme')).toBe(0);
    slot.release();
    expect(a.tryAcquire({ tenantId: 'acme' })).toMatchObject({ code: 'tenant_capacity' });
    // And a third Admission must match the caps as they are now.
    expect(refusal(() => admission({ maxConcurrentSessions: 1, store })).message).toContain(
      'is 1, but the memoryStore() it is given counts for another Admission whose maxConcurrentSessions is 2',
    );
    expect(() =>
      admission({
        maxConcurrentSessions: 2,
        tenants: { defaultMax: 3, max: { acme: 0 } },
        store,
      }),
    ).not.toThrow();
  });

  it("lets one's waiters in when the other releases a slot", async () => {
    const store = memoryStore();
    const options = { maxConcurrentSessions: 1, queue: { maxSize: 5, timeoutMs: 60_000 }, store };
    const a = admission(options);
    const b = admission(options);
    const held = a.tryAcquire();
    if (!isSlot(held)) throw new Error('expected a slot');
    const waiting = b.acquire({ tenantId: 'w' });
    held.release();
    // Granted once the release is known, not at the waiter's 60 s deadline.
    const slot = await waiting;
    expect(slot.tenantId).toBe('w');
    expect(a.tryAcquire()).toMatchObject({ code: 'capacity' });
    slot.release();
  });

  it("lets one's waiters in when the other releases a slot it held past its drain", async () => {
    const store = memoryStore();
    const options = { maxConcurrentSessions: 1, queue: { maxSize: 5, timeoutMs: 60_000 }, store };
    const a = admission(options);
    const b = admission(options);
    const held = a.tryAcquire();
    if (!isSlot(held)) throw new Error('expected a slot');
    // Its holder does not stop on the slot's signal: the drain ends with the slot still held.
    expect(await a.drain({ timeoutMs: 0, closeTimeoutMs: 0 })).toMatchObject({ stillActive: 1 });
    const waiting = b.acquire({ tenantId: 'w' });
    held.release();
    // Granted once the release is known, not at the waiter's 60 s deadline.
    const slot = await Promise.race([
      waiting,
      new Promise<never>((_, reject) =>
        setTimeout(() => reject(new Error('still waiting with the slot free')), 1_000),
      ),
    ]);
    expect(slot.tenantId).toBe('w');
    slot.release();
  });

  it('takes new caps once every Admission using it has drained', async () => {
    const store = memoryStore();
    const a = admission({ maxConcurrentSessions: 10, store });
    await a.drain({ timeoutMs: 0 });
    const b = admission({ maxConcurrentSessions: 20, store });
    expect(b.maxConcurrentSessions).toBe(20);
    // The drained one no longer follows the store's caps.
    b.setLimits({ maxConcurrentSessions: 30 });
    expect(a.maxConcurrentSessions).toBe(10);
  });
});
