import { inspect } from 'node:util';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { Admission } from '../../../../src/admission/admission.js';
import type { AdmissionOptions } from '../../../../src/admission/options.js';
import type { AcquireRequest, Lease } from '../../../../src/admission/store/capacity-store.js';
import type { RedisLease } from '../../../../src/admission/store/redis/lease-book.js';
import {
  isWriteRefusal,
  RedisUnavailableError,
  withDeadline,
} from '../../../../src/admission/store/redis/redis-client.js';
import {
  type RedisCapacityStore,
  redisStore,
} from '../../../../src/admission/store/redis/redis-store.js';
import { ConfigError } from '../../../../src/iface/errors.js';
import { describeWithBinary } from '../../../support/binaries.js';
import { ControlledBackend } from '../../../support/controlled-backend.js';
import { freePort } from '../../../support/free-port.js';
import { type RedisServer, startRedis } from '../../../support/redis-server.js';
import { startTcpProxy, type TcpProxy } from '../../../support/tcp-proxy.js';

const request = (tenantId: string, globalLimit = 3, tenantLimit = Number.POSITIVE_INFINITY) => ({
  tenantId,
  globalLimit,
  tenantLimit,
});

const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Ways to make a Redis refuse every write while it still answers reads, named by the error
 * Redis answers a write with, each with the command that makes it take writes again.
 */
const writeRefusals: readonly {
  readonly reply: string;
  readonly refuse: (redis: RedisServer) => Promise<unknown>;
  readonly accept: (redis: RedisServer) => Promise<unknown>;
}[] = [
  {
    // A replica of a master that is not there.
    reply: 'READONLY',
    refuse: async (redis) => redis.cli('REPLICAOF', '127.0.0.1', String(await freePort())),
    accept: (redis) => redis.cli('REPLICAOF', 'NO', 'ONE'),
  },
  {
    // Memory full under noeviction (Redis's default policy).
    reply: 'OOM',
    refuse: (redis) => redis.cli('CONFIG', 'SET', 'maxmemory', '1'),
    accept: (redis) => redis.cli('CONFIG', 'SET', 'maxmemory', '0'),
  },
  {
    // Fewer replicas than min-replicas-to-write.
    reply: 'NOREPLICAS',
    refuse: (redis) => redis.cli('CONFIG', 'SET', 'min-replicas-to-write', '1'),
    accept: (redis) => redis.cli('CONFIG', 'SET', 'min-replicas-to-write', '0'),
  },
];

describeWithBinary('redis-server', 'redis store', () => {
  let server: RedisServer;
  const stores: RedisCapacityStore[] = [];
  const clients: Redis[] = [];
  let counter = 0;

  /** A store on a fresh limiter name, so tests do not see each other's leases. */
  const newStore = (name = `t${++counter}`, leaseTtlMs = 1_000): RedisCapacityStore => {
    server.seedLimiter(name);
    const store = redisStore({ redis: server.url, name, leaseTtlMs, pollMs: 50 });
    stores.push(store);
    return store;
  };

  beforeAll(async () => {
    server = await startRedis();
  });
  afterEach(async () => {
    await Promise.all(stores.splice(0).map((s) => s.close()));
    for (const client of clients.splice(0)) client.disconnect();
  });
  afterAll(async () => {
    await server.stop();
  });

  it('enforces the global and tenant caps atomically and releases exactly once', async () => {
    const store = newStore();
    const a = await store.tryAcquire(request('a', 3, 2));
    const b = await store.tryAcquire(request('a', 3, 2));
    expect(await store.tryAcquire(request('a', 3, 2))).toEqual({ refused: 'tenant_capacity' });
    const c = await store.tryAcquire(request('b', 3, 2));
    expect(await store.tryAcquire(request('c', 3, 2))).toEqual({ refused: 'capacity' });
    expect(await store.usage()).toEqual({
      active: 3,
      tenants: new Map([
        ['a', 2],
        ['b', 1],
      ]),
    });
    await store.release(a as Lease);
    await store.release(a as Lease);
    expect((await store.usage()).active).toBe(2);
    await store.release(b as Lease);
    await store.release(c as Lease);
    expect(await store.usage()).toEqual({ active: 0, tenants: new Map() });
  });

  it('an acquire sent again after its connection dropped unanswered counts its lease once', async () => {
    const name = `t${++counter}`;
    server.seedLimiter(name);
    const proxy: TcpProxy = await startTcpProxy(server.port);
    const store = redisStore({ redis: proxy.url, name, leaseTtlMs: 10_000, timeoutMs: 5_000 });
    stores.push(store);
    await store.release((await store.tryAcquire(request('t'))) as Lease);
    // Told when the script has written the lease, straight from Redis, not through the proxy.
    const watcher = new Redis(server.url, { lazyConnect: true });
    clients.push(watcher);
    // Subscribed only once ready: ioredis sends a SUBSCRIBE made during its handshake at once,
    // its ready check then fails in subscriber mode and it reconnects, missing the event.
    await watcher.connect();
    await server.cli('CONFIG', 'SET', 'notify-keyspace-events', 'Kz');
    try {
      await watcher.subscribe(`__keyspace@0__:voice-admission:{${name}}:leases`);
      const written = new Promise((resolve) => watcher.once('message', resolve));
      proxy.delay(200);
      const acquired = store.tryAcquire(request('t'));
      await written;
      // The reply is still on its way: ioredis reconnects and sends the script again.
      proxy.reset();
      const lease = await acquired;
      expect(lease.refused).toBeUndefined();
      expect(await store.usage()).toEqual({ active: 1, tenants: new Map([['t', 1]]) });
      await store.release(lease as Lease);
      expect(await store.usage()).toEqual({ active: 0, tenants: new Map() });
    } finally {
      await server.cli('CONFIG', 'SET', 'notify-keyspace-events', '');
      await store.close();
      await proxy.close();
    }
  });

  it('an acquire given up on before Redis answered NOSCRIPT is not sent again behind its withdrawal', async () => {
    const name = `t${++counter}`;
    server.seedLimiter(name);
    const real = new Redis(server.url);
    clients.push(real);
    // The client as the store sees it: the next EVALSHA, once armed, answers NOSCRIPT only when
    // the test says so (its script flushed, the answer slow), and every EVAL is counted.
    let armed = false;
    let answerNoScript: (() => void) | undefined;
    /** The first EVALSHA after the armed one: the release withdrawing the given-up acquire. */
    let withdrawal: Promise<unknown> | undefined;
    let evals = 0;
    const client = new Proxy(real, {
      get(target, property) {
        if (property === 'evalsha') {
          return (...args: Parameters<Redis['evalsha']>) => {
            if (armed) {
              armed = false;
              return new Promise((_, reject) => {
                answerNoScript = () => reject(new Error('NOSCRIPT No matching script.'));
              });
            }
            const answer = target.evalsha(...args);
            if (answerNoScript !== undefined) withdrawal ??= answer;
            return answer;
          };
        }
        if (property === 'eval') {
          return (...args: Parameters<Redis['eval']>) => {
            evals++;
            return target.eval(...args);
          };
        }
        const value: unknown = Reflect.get(target, property);
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const store = redisStore({ redis: client, name, leaseTtlMs: 30_000, timeoutMs: 200 });
    stores.push(store);
    // Both scripts in Redis's cache: only the armed EVALSHA answers NOSCRIPT.
    await store.release((await store.tryAcquire(request('t'))) as Lease);
    await store.usage();
    armed = true;
    await expect(store.tryAcquire(request('t'))).rejects.toThrow(/did not answer batch/);
    // The withdrawal went after the deadline and ran; only then does the NOSCRIPT come back.
    await expect.poll(() => withdrawal).toBeDefined();
    await withdrawal;
    const evalsBefore = evals;
    answerNoScript!();
    // The store acts on the answer in its reactions to it: a usage asked for after them is
    // sent after what they send, and runs after it.
    await new Promise(setImmediate);
    expect(await store.usage()).toEqual({ active: 0, tenants: new Map() });
    expect(evals).toBe(evalsBefore);
  });

  it('acquires given up on while Redis stalled hold no slot once it runs them', async () => {
    const store = newStore(undefined, 10_000);
    await store.release((await store.tryAcquire(request('t', 2))) as Lease);
    server.pause();
    let outcomes: PromiseSettledResult<unknown>[];
    try {
      outcomes = await Promise.allSettled([1, 2, 3].map(() => store.tryAcquire(request('t', 2))));
    } finally {
      server.resume();
    }
    expect(outcomes.map(({ status }) => status)).toEqual(['rejected', 'rejected', 'rejected']);
    // Redis ran them on waking: without more, the cap would stay full for the lease TTL.
    expect(await store.usage()).toEqual({ active: 0, tenants: new Map() });
  });

  it('a key claimed on a slot granted locally while Redis was away is claimed in Redis once the slot is', async () => {
    const name = `t${++counter}`;
    server.seedLimiter(name);
    const proxy = await startTcpProxy(server.port);
    const cutOff = redisStore({
      redis: proxy.url,
      name,
      timeoutMs: 200,
      whenUnavailable: { localShare: 1 },
    });
    stores.push(cutOff);
    cutOff.on('error', () => undefined);
    const other = newStore(name);
    try {
      await cutOff.usage();
      proxy.hold();
      const lease = (await cutOff.tryAcquire(request('t', 5))) as Lease;
      expect(await cutOff.claim(lease, 'job')).toEqual({ claimed: true });
      await cutOff.bindSession(lease, 'job', 'session-1');
      proxy.release();
      await cutOff.renewNow();
      expect((await other.usage()).active).toBe(1);
      const rival = (await other.tryAcquire(request('t', 5))) as Lease;
      expect(await other.claim(rival, 'job')).toEqual({ claimed: false, sessionId: 'session-1' });
      // A key another instance took meanwhile ends the session that claimed it locally.
      proxy.hold();
      const late = (await cutOff.tryAcquire(request('t', 5))) as Lease;
      expect(await cutOff.claim(late, 'taken')).toEqual({ claimed: true });
      const taker = (await other.tryAcquire(request('t', 5))) as Lease;
      expect(await other.claim(taker, 'taken')).toEqual({ claimed: true });
      const lost = new Promise((resolve) => cutOff.on('lease_lost', resolve));
      proxy.release();
      await cutOff.renewNow();
      expect(await lost).toEqual({ leaseId: late.id, tenantId: 't', reason: 'key_taken' });
    } finally {
      await cutOff.close();
      await proxy.close();
    }
  });

  it('shares one cap between stores with the same name; other names are independent', async () => {
    const one = newStore('shared');
    const two = newStore('shared');
    const other = newStore('other');
    expect((await one.tryAcquire(request('t', 2))).refused).toBeUndefined();
    expect((await two.tryAcquire(request('t', 2))).refused).toBeUndefined();
    expect(await two.tryAcquire(request('t', 2))).toEqual({ refused: 'capacity' });
    expect((await other.tryAcquire(request('t', 2))).refused).toBeUndefined();
  });

  it('counts apart on another Redis database, even under the same name', async () => {
    const name = `t${++counter}`;
    server.seedLimiter(name);
    const epoch = `voice-admission:{${name}}:epoch`;
    await server.cli('COPY', epoch, epoch, 'DB', '1');
    const [zero, one] = [0, 1].map((db) => {
      const store = redisStore({ redis: `${server.url}/${db}`, name });
      stores.push(store);
      return store;
    }) as [RedisCapacityStore, RedisCapacityStore];
    expect((await zero.tryAcquire(request('t', 1))).refused).toBeUndefined();
    expect(await zero.tryAcquire(request('t', 1))).toEqual({ refused: 'capacity' });
    expect((await one.tryAcquire(request('t', 1))).refused).toBeUndefined();
  });

  it('a store that stops renewing (a crashed instance) loses its slots within the lease TTL; others keep theirs', async () => {
    const crashed = newStore('crash', 400);
    const alive = newStore('crash', 400);
    for (let i = 0; i < 2; i++) await crashed.tryAcquire(request('t', 5));
    await alive.tryAcquire(request('t', 5));
    await crashed.close(); // stops renewing without releasing
    expect((await alive.usage()).active).toBe(3);
    await new Promise((resolve) => setTimeout(resolve, 700));
    expect((await alive.usage()).active).toBe(1);
    expect(alive.held).toBe(1);
  });

  it('wakes a waiter on another instance when a slot is released there', async () => {
    const backend = new ControlledBackend();
    const storeA = newStore('wake');
    const storeB = newStore('wake');
    const a = new Admission(backend, { maxConcurrentSessions: 1, health: false, store: storeA });
    const b = new Admission(backend, {
      maxConcurrentSessions: 1,
      health: false,
      store: storeB,
      queue: { maxSize: 5 },
    });
    const held = await a.acquire();
    const waiting = b.acquire();
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(b.queued).toBe(1);
    held.release();
    const slot = await waiting;
    expect(slot.tenantId).toBe('default');
    slot.release();
  });

  it('slots freed together on another instance go to as many waiters here at once, in one script', async () => {
    const cap = 10;
    const name = 'freed-many';
    const holder = newStore(name);
    const client = new Redis(server.url);
    clients.push(client);
    // No poll meanwhile: only the wake-up message moves the waiters.
    const store = redisStore({ redis: client, name, pollMs: 60_000 });
    stores.push(store);
    const leases = await Promise.all(
      Array.from({ length: cap }, () => holder.tryAcquire(request('t', cap))),
    );
    const admission = new Admission(new ControlledBackend(), {
      maxConcurrentSessions: cap,
      health: false,
      store,
      queue: { maxSize: cap },
    });
    const waiting = Array.from({ length: cap }, () => admission.acquire());
    await expect.poll(() => admission.queued).toBe(cap);
    const scripts = vi.spyOn(client, 'evalsha');
    await Promise.all(leases.map((lease) => holder.release(lease as Lease)));
    const slots = await Promise.all(waiting);
    // One script for the ten, not one round trip each.
    expect(scripts).toHaveBeenCalledTimes(1);
    for (const slot of slots) slot.release();
    await expect.poll(() => holder.usage()).toEqual({ active: 0, tenants: new Map() });
  });

  /** A store on a fresh limiter, through a client the test can watch. */
  const watchedStore = (leaseTtlMs = 1_000, leaseMarginMs?: number) => {
    const name = `t${++counter}`;
    server.seedLimiter(name);
    const client = new Redis(server.url);
    clients.push(client);
    const margin = leaseMarginMs === undefined ? {} : { leaseMarginMs };
    const store = redisStore({ redis: client, name, leaseTtlMs, ...margin, pollMs: 60_000 });
    stores.push(store);
    return { store, name, client, scripts: () => vi.spyOn(client, 'evalsha') };
  };

  it('passes a slot released and taken again by its tenant in one turn without a script; Redis keeps renewing it', async () => {
    const { store, scripts } = watchedStore(600);
    const lost = vi.fn();
    store.on('lease_lost', lost);
    const a = (await store.tryAcquire(request('t', 1))) as RedisLease;
    const sent = scripts();
    const released = store.release(a);
    const b = (await store.tryAcquire(request('t', 1))) as RedisLease;
    await released;
    expect(sent).not.toHaveBeenCalled();
    sent.mockRestore();
    expect(store.stats().passedTotal).toBe(1);
    expect(b).not.toBe(a);
    expect(b.member).toBe(a.member);
    // The previous holder's handle is spent: it cannot release the new holder's slot.
    await store.release(a);
    expect(await store.usage()).toEqual({ active: 1, tenants: new Map([['t', 1]]) });
    await new Promise((resolve) => setTimeout(resolve, 3 * 600));
    expect(await store.usage()).toEqual({ active: 1, tenants: new Map([['t', 1]]) });
    expect(lost).not.toHaveBeenCalled();
    await store.release(b);
    expect(await store.usage()).toEqual({ active: 0, tenants: new Map() });
  });

  it('with the cap full, a slot freed here goes to the next waiter of its tenant without a round trip', async () => {
    const { store, scripts } = watchedStore();
    const admission = new Admission(new ControlledBackend(), {
      maxConcurrentSessions: 1,
      health: false,
      store,
      queue: { maxSize: 1 },
    });
    const held = await admission.acquire({ tenantId: 't' });
    const waiting = admission.acquire({ tenantId: 't' });
    await expect.poll(() => admission.queued).toBe(1);
    const sent = scripts();
    held.release();
    const next = await waiting;
    expect(sent).not.toHaveBeenCalled();
    next.release();
    await expect.poll(() => store.usage()).toEqual({ active: 0, tenants: new Map() });
  });

  it('sends the release when the slot goes to another tenant, under other limits, with a claim or not renewed lately', async () => {
    const { store, scripts } = watchedStore();
    const passes = async (from: Lease, to: AcquireRequest): Promise<[Lease, boolean]> => {
      const sent = scripts();
      const released = store.release(from);
      const lease = (await store.tryAcquire(to)) as Lease;
      await released;
      const passed = sent.mock.calls.length === 0;
      sent.mockRestore();
      return [lease, passed];
    };
    const a = (await store.tryAcquire(request('t', 1))) as Lease;
    const [b, toOtherTenant] = await passes(a, request('u', 1));
    expect(toOtherTenant).toBe(false);
    expect(await store.usage()).toEqual({ active: 1, tenants: new Map([['u', 1]]) });
    const [c, underOtherLimits] = await passes(b, request('u', 2));
    expect(underOtherLimits).toBe(false);
    expect(await store.claim(c, 'key')).toEqual({ claimed: true });
    const [d, withClaim] = await passes(c, request('u', 2));
    expect(withClaim).toBe(false);
    // The claim went with the lease that made it.
    expect(await store.claim(d, 'key')).toEqual({ claimed: true });
    const [e, afterClaim] = await passes(d, request('u', 2));
    expect(afterClaim).toBe(false);
    // Not renewed for two beats (as when renewals fail): Redis may have lost it.
    (e as RedisLease).deadline = performance.now() + 100;
    const [f, stale] = await passes(e, request('u', 2));
    expect(stale).toBe(false);
    expect(store.stats().passedTotal).toBe(0);
    const [g, fresh] = await passes(f, request('u', 2));
    expect(fresh).toBe(true);
    expect(store.stats().passedTotal).toBe(1);
    await store.release(g);
    expect(await store.usage()).toEqual({ active: 0, tenants: new Map() });
  });

  it('does not pass a lease while a claim is under way on it; a claim of a lease released meanwhile counts for nothing', async () => {
    const { store, scripts } = watchedStore();
    const a = (await store.tryAcquire(request('t', 1))) as RedisLease;
    // Its script is on its way; its outcome is kept now, as it may come before it is awaited.
    const claiming = store.claim(a, 'k').then(
      () => undefined,
      (error: unknown) => error,
    );
    const sent = scripts();
    const released = store.release(a);
    const b = (await store.tryAcquire(request('t', 1))) as RedisLease;
    await released;
    // The claim would have landed on the next holder's lease: release and acquire went to Redis.
    expect(sent).toHaveBeenCalled();
    sent.mockRestore();
    expect(b.member).not.toBe(a.member);
    expect(String(await claiming)).toMatch(/released while its claim was under way/);
    await expect(store.claim(a, 'k')).rejects.toThrow(/not held by this store/);
    // The key went with the released lease.
    expect(await store.claim(b, 'k')).toEqual({ claimed: true });
    await store.release(b);
  });

  it('does not pass a lease past its deadline, however recently it was written', async () => {
    // A margin over a third of the TTL: the deadline comes before two renewal beats have passed.
    const { store, scripts } = watchedStore(1_000, 500);
    const a = (await store.tryAcquire(request('t', 1))) as RedisLease;
    a.deadline = performance.now() - 1; // written 501 ms ago
    const sent = scripts();
    const released = store.release(a);
    const b = (await store.tryAcquire(request('t', 1))) as RedisLease;
    await released;
    expect(sent).toHaveBeenCalled();
    expect(b.member).not.toBe(a.member);
    await store.release(b);
  });

  it('a slot passed over while Redis may have lost claims takes no key until the window closes', async () => {
    const { store, name, client } = watchedStore(600);
    const a = (await store.tryAcquire(request('t', 2))) as Lease;
    // Redis loses the limiter's epoch (as in a restart from an old snapshot): the next script
    // opens the recovery window.
    await client.del(`voice-admission:{${name}}:epoch`);
    void store.release(a);
    const b = (await store.tryAcquire(request('t', 2))) as Lease; // passed over: no script
    await expect(store.claim(b, 'k')).rejects.toThrow(/lost claims/);
    await expect
      .poll(
        () =>
          store.claim(b, 'k').then(
            ({ claimed }) => claimed,
            () => false,
          ),
        {
          timeout: 3_000,
        },
      )
      .toBe(true);
    await store.release(b);
  });

  it('a renewal takes a claim again that Redis lost while it kept the lease', async () => {
    const { store, name, client } = watchedStore();
    const other = newStore(name);
    const lease = (await store.tryAcquire(request('t', 2))) as RedisLease;
    expect(await store.claim(lease, 'k')).toEqual({ claimed: true });
    await store.bindSession(lease, 'k', 'session-1');
    // As a snapshot taken between the acquire and the claim, restored: the lease, no claim.
    await client.hdel(`voice-admission:{${name}}:claims`, 'k');
    await client.hdel(`voice-admission:{${name}}:claimed`, lease.member);
    expect(await client.hexists(`voice-admission:{${name}}:claims`, 'k')).toBe(0);
    await store.renewNow();
    const taken = (await other.tryAcquire(request('t', 2))) as Lease;
    expect(await other.claim(taken, 'k')).toEqual({ claimed: false, sessionId: 'session-1' });
    await other.release(taken);
    await store.release(lease);
  });

  it('a renewal under way when a slot passes to a new holder renews it for that holder', async () => {
    const { store } = watchedStore();
    const a = (await store.tryAcquire(request('t', 1))) as RedisLease;
    const before = a.deadline;
    const renewal = store.renewNow(); // its script names the lease already
    void store.release(a);
    const b = (await store.tryAcquire(request('t', 1))) as RedisLease;
    await renewal;
    expect(b.deadline).toBeGreaterThan(before);
    await store.release(b);
  });

  it('a reply that arrived while this process was stalled past the deadline still counts', async () => {
    const client = new Redis(server.url);
    clients.push(client);
    await client.ping();
    const answer = withDeadline(client.ping(), 50, 'ping');
    // A long task: the reply arrives meanwhile, and the deadline passes before it is read.
    const stalledUntil = performance.now() + 200;
    while (performance.now() < stalledUntil);
    await expect(answer).resolves.toBe('PONG');
  });

  it('refuses with store_unavailable and a retryAfterMs when Redis cannot be reached', async () => {
    const store = redisStore({ redis: 'redis://127.0.0.1:1', name: 'down', timeoutMs: 200 });
    stores.push(store);
    const errors: string[] = [];
    store.on('error', (e) => errors.push(e.operation));
    const admission = new Admission(new ControlledBackend(), {
      maxConcurrentSessions: 5,
      health: false,
      store,
    });
    admission.on('store_error', () => undefined);
    await expect(admission.acquire()).rejects.toMatchObject({
      code: 'store_unavailable',
      retryAfterMs: 1_000,
    });
    // The outage is reported once, not once per reconnect attempt.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(errors.filter((op) => op === 'connection')).toHaveLength(1);
  });

  it('refuses tenant ids with control characters: they separate fields in the scripts', async () => {
    const store = newStore();
    await expect(store.tryAcquire(request('a\nb'))).rejects.toThrow(
      /tenantId: must not contain control characters/,
    );
    expect(await store.usage()).toEqual({ active: 0, tenants: new Map() });
  });

  it('a release that cannot reach Redis resolves once the failure is reported as an error event', async () => {
    const doomed = await startRedis();
    doomed.seedLimiter('doomed');
    const store = redisStore({ redis: doomed.url, name: 'doomed', timeoutMs: 200 });
    stores.push(store);
    const errors: string[] = [];
    store.on('error', (e) => errors.push(e.operation));
    const lease = (await store.tryAcquire(request('t'))) as Lease;
    await doomed.stop();
    await store.release(lease);
    expect(errors).toContain('release');
  });

  it('is unavailable from a call Redis failed until Redis answers again, which it finds out with no traffic', async () => {
    const flaky = await startRedis();
    try {
      flaky.seedLimiter('flaky');
      // A client the store does not own: the renewal beat, not the client's events, tells it.
      const client = new Redis(flaky.url);
      clients.push(client);
      client.on('error', () => undefined);
      const store = redisStore({ redis: client, name: 'flaky', timeoutMs: 200, leaseTtlMs: 300 });
      stores.push(store);
      store.on('error', () => undefined);
      expect(await store.usage()).toMatchObject({ active: 0 });
      expect(store.available).toBe(true);
      await flaky.kill();
      await expect(store.tryAcquire(request('t'))).rejects.toThrow(/redis/);
      expect(store.available).toBe(false);
      await flaky.restart();
      await vi.waitFor(() => expect(store.available).toBe(true), { timeout: 3_000 });
    } finally {
      await flaky.stop();
    }
  });

  it('subscribes again once Redis is back when its first SUBSCRIBE gave up, so wake-ups arrive', async () => {
    const late = await startRedis();
    try {
      await late.kill();
      // Gives up on a command after one reconnect; ioredis gives up after 20 by default (10 s).
      const client = new Redis(late.url, { maxRetriesPerRequest: 1, retryStrategy: () => 20 });
      clients.push(client);
      client.on('error', () => undefined);
      // No poll meanwhile: only the wake-up message tells of freed slots.
      const store = redisStore({ redis: client, name: 'late', pollMs: 60_000 });
      stores.push(store);
      // The connection's own errors come first; this is the SUBSCRIBE itself failing.
      const gaveUp = new Promise<void>((resolve) =>
        store.on('error', ({ error }) => /subscribe failed/.test(String(error)) && resolve()),
      );
      const freed: (number | undefined)[] = [];
      store.onCapacityFreed((count) => freed.push(count));
      await gaveUp;
      await late.restart();
      await vi.waitFor(
        async () => {
          await late.cli('PUBLISH', 'voice-admission:{late}:freed', 'elsewhere 2');
          expect(freed).toContain(2);
        },
        { timeout: 3_000, interval: 100 },
      );
    } finally {
      await late.stop();
    }
  });

  it('a renewal that fails on every beat is reported once per outage', async () => {
    // A Redis of its own, made a replica of a master that is not there: it answers reads and
    // refuses every write (READONLY) for as long as that lasts. Refusing only growth (OOM) would
    // not do: a renewal that finds its lease already expired only drops it, which OOM allows.
    const readOnly = await startRedis();
    const absentMaster = await freePort();
    try {
      readOnly.seedLimiter('read-only');
      const store = redisStore({ redis: readOnly.url, name: 'read-only', leaseTtlMs: 300 });
      stores.push(store);
      const renewals: Error[] = [];
      store.on('error', (e) => {
        if (e.operation === 'renew') renewals.push(e.error as Error);
      });
      store.on('lease_lost', () => undefined);
      await store.tryAcquire(request('t'));
      const outage = () => readOnly.cli('REPLICAOF', '127.0.0.1', String(absentMaster));
      await outage();
      await wait(700);
      expect(renewals).toHaveLength(1);
      expect(renewals[0]!.message).toMatch(/READONLY/);
      expect(store.available).toBe(false);
      await readOnly.cli('REPLICAOF', 'NO', 'ONE');
      await vi.waitFor(() => expect(store.available).toBe(true));
      await wait(300);
      // The next outage is reported again.
      await outage();
      await vi.waitFor(() => expect(renewals).toHaveLength(2));
      await wait(400);
      expect(renewals).toHaveLength(2);
    } finally {
      await readOnly.stop();
    }
  });

  it.each(writeRefusals)(
    'is unavailable while Redis answers reads but refuses writes ($reply), until it takes writes again',
    async ({ reply, refuse, accept }) => {
      const refusing = await startRedis();
      try {
        refusing.seedLimiter('refusing');
        const store = redisStore({ redis: refusing.url, name: 'refusing', leaseTtlMs: 300 });
        stores.push(store);
        store.on('error', () => undefined);
        await store.release((await store.tryAcquire(request('t'))) as Lease);
        await refuse(refusing);
        await expect(store.tryAcquire(request('t'))).rejects.toThrow(reply);
        expect(store.available).toBe(false);
        // Calls that write nothing go through: usage, and the renewal beats (every 100 ms) with
        // no lease to renew. No lease can be taken meanwhile, so the store stays unavailable.
        expect(await store.usage()).toEqual({ active: 0, tenants: new Map() });
        expect(store.available).toBe(false);
        await wait(400);
        expect(store.available).toBe(false);
        await accept(refusing);
        // Found out with no traffic: the renewal beat tries a write.
        await vi.waitFor(() => expect(store.available).toBe(true), { timeout: 3_000 });
        expect((await store.tryAcquire(request('t'))).refused).toBeUndefined();
      } finally {
        await refusing.stop();
      }
    },
  );

  it('a renewal outage ends when Redis takes writes again, not when a round has nothing to write', async () => {
    const readOnly = await startRedis();
    const absentMaster = await freePort();
    try {
      readOnly.seedLimiter('read-only');
      // The local share keeps granting leases, which the renewal then tries to put in Redis.
      const store = redisStore({
        redis: readOnly.url,
        name: 'read-only',
        leaseTtlMs: 300,
        whenUnavailable: { localShare: 0.5 },
      });
      stores.push(store);
      const renewals: Error[] = [];
      store.on('error', (e) => {
        if (e.operation === 'renew') renewals.push(e.error as Error);
      });
      store.on('lease_lost', () => undefined);
      const inRedis = (await store.tryAcquire(request('t', 4))) as Lease;
      await readOnly.cli('REPLICAOF', '127.0.0.1', String(absentMaster));
      await vi.waitFor(() => expect(renewals).toHaveLength(1));
      // With no lease left, renewal rounds have nothing to write and go through.
      await store.release(inRedis);
      await wait(300);
      // Granted locally: each round fails to put it in Redis, within the same outage.
      const local = (await store.tryAcquire(request('t', 4))) as Lease;
      await wait(400);
      expect(renewals).toHaveLength(1);
      await readOnly.cli('REPLICAOF', 'NO', 'ONE');
      await vi.waitFor(async () => expect((await store.usage()).active).toBe(1), {
        timeout: 3_000,
      });
      await store.release(local);
    } finally {
      await readOnly.stop();
    }
  });

  it('validates its options', () => {
    expect(() => redisStore({ redis: 42 as never, name: 'x' })).toThrow(
      /redis: must be an ioredis client/,
    );
    // An empty URL would make ioredis connect to whatever listens on localhost:6379.
    for (const url of ['', '  ', 'http://127.0.0.1:6379', 'tcp://cache:6379']) {
      expect(() => redisStore({ redis: url, name: 'x' })).toThrow(
        `redis: must be an ioredis client, a Cluster client or a redis:// URL, got ${JSON.stringify(url)}`,
      );
    }
    expect(() => redisStore({ redis: server.url, name: 'bad{name}' })).toThrow(/name: must be/);
    expect(() => redisStore({ redis: server.url, name: 'x', leaseTtlMs: 10 })).toThrow(
      /options.leaseTtlMs: must be >= 100/,
    );
    expect(() =>
      redisStore({ redis: server.url, name: 'x', whenUnavailable: 'panic' as never }),
    ).toThrow(/options.whenUnavailable/);
    expect(() => redisStore({ redis: server.url, name: 'x', leaseLoss: 'drop' as never })).toThrow(
      /options.leaseLoss: must be one of end, keep, got "drop"/,
    );
    expect(() =>
      redisStore({ redis: server.url, name: 'x', leaseTtlMs: 1_000, leaseMarginMs: 600 }),
    ).toThrow(/options.leaseMarginMs: must be <= 500, got 600/);
  });

  it('refuses durations longer than a Node.js timer can wait, which would fire at once', () => {
    const tooLong = 2 ** 31; // setTimeout fires such a delay after 1 ms
    // The margin and the call deadline are bounded by the TTL.
    for (const field of ['leaseTtlMs', 'pollMs'] as const) {
      expect(() => redisStore({ redis: server.url, name: 'x', [field]: tooLong })).toThrow(
        `options.${field}: must be <= 2147483647 ms (the longest timer Node.js supports)`,
      );
    }
  });

  it('refuses at once a URL it cannot use, without quoting the password in it', () => {
    for (const [url, shown] of [
      ['http://:pa55word-x@127.0.0.1:6379', '"http://[redacted]@127.0.0.1:6379"'],
      ['valkey://app:pa55word-x@cache:6379', '"valkey://[redacted]@cache:6379"'],
      // ioredis would only fail at its first connection, with the URL in its error.
      ['redis://:pa55word-x@127.0.0.1:99999', '"redis://[redacted]@127.0.0.1:99999"'],
      ['redis://:pa55/word-x@cache:6379', '"redis://[redacted]@cache:6379"'],
      // ioredis takes options from the query, the password too.
      ['valkey://cache:6379?password=pa55word-x', '"valkey://cache:6379?[redacted]"'],
      ['redis://cache:99999/0?db=1&password=pa55word-x', '"redis://cache:99999/0?[redacted]"'],
      // Without a scheme, ioredis reads a path as a Unix socket: host and port would be ignored.
      ['cache:6379/2', '"cache:6379/2"'],
      ['redis:/cache:6379', '"redis:/cache:6379"'],
      // A database that is no number: ioredis sends SELECT NaN before every command, unhandled.
      ['redis://cache:6379/abc', '"redis://cache:6379/abc"'],
      ['//cache:6379/0/1', '"//cache:6379/0/1"'],
      ['redis://cache:6379?db=abc', '"redis://cache:6379?[redacted]"'],
    ]) {
      const error = (() => {
        try {
          redisStore({ redis: url!, name: 'x' });
        } catch (e) {
          return e;
        }
        return undefined;
      })();
      expect(error).toBeInstanceOf(ConfigError);
      expect(inspect(error)).not.toContain('pa55');
      expect((error as Error).message).toContain(shown);
    }
  });

  it('close() waits for the acquires under way, every caller of close() too, and gives back a grant that arrives meanwhile', async () => {
    const name = `closing${++counter}`;
    const store = newStore(name);
    const acquiring = store.tryAcquire(request('t'));
    let acquireSettled = false;
    void acquiring
      .catch(() => undefined)
      .finally(() => {
        acquireSettled = true;
      });
    const first = store.close();
    await store.close();
    expect(acquireSettled).toBe(true);
    // Granted by Redis, but by a store that no longer renews it: never handed out.
    await expect(acquiring).rejects.toThrow(
      'the redis store was closed while the acquire was under way',
    );
    await first;
    expect(store.stats().held).toBe(0);
    expect(await server.cli('ZCARD', `voice-admission:{${name}}:leases`)).toBe('0');
  });

  it.each([
    ['end', { lostTotal: 1 }],
    ['keep', { lostTotal: 0 }],
  ] as const)(
    'after close(), a slot still held meets leaseLoss %s at its deadline, as its lease is no longer renewed',
    async (leaseLoss, after) => {
      const name = `closed${++counter}`;
      server.seedLimiter(name);
      const store = redisStore({ redis: server.url, name, leaseTtlMs: 600, leaseLoss });
      stores.push(store);
      store.on('error', () => undefined);
      const admission = new Admission(new ControlledBackend(), {
        maxConcurrentSessions: 3,
        health: false,
        store,
      });
      const slot = await admission.acquire();
      const overdue = new Promise((resolve) =>
        store.on(leaseLoss === 'end' ? 'lease_lost' : 'lease_overdue', resolve),
      );
      await store.close();
      await overdue;
      expect(slot.signal.aborted).toBe(leaseLoss === 'end');
      expect(store.stats()).toMatchObject({ held: 1, unleased: 1, overdueTotal: 1, ...after });
      slot.release();
      await vi.waitFor(() => expect(store.stats().held).toBe(0));
    },
  );

  it("gives the Admissions sharing one store object one set of caps: other caps are refused, a change on one is the other's", async () => {
    const store = newStore();
    const admission = (options: Omit<AdmissionOptions, 'store'>) =>
      new Admission(new ControlledBackend(), {
        health: false,
        queue: { maxSize: 5 },
        ...options,
        store,
      });
    const a = admission({ maxConcurrentSessions: 1, tenants: { max: { acme: 1 } } });
    expect(() => admission({ maxConcurrentSessions: 5 })).toThrow(
      new ConfigError(
        'options.maxConcurrentSessions',
        'is 5, but the redisStore() it is given counts for another Admission whose ' +
          'maxConcurrentSessions is 1: Admissions sharing a redis store share its caps, so give ' +
          'them the same (as every instance using its name must)',
      ),
    );
    expect(() => admission({ maxConcurrentSessions: 1 })).toThrow(
      /options.tenants.max.acme: is not set, but the redisStore\(\) it is given counts for another Admission whose tenants.max.acme is 1/,
    );
    const b = admission({ maxConcurrentSessions: 1, tenants: { max: { acme: 1 } } });
    const held = await a.acquire();
    const waiting = b.acquire({ tenantId: 'w' });
    a.setLimits({ maxConcurrentSessions: 2 });
    expect(b.maxConcurrentSessions).toBe(2);
    (await waiting).release();
    held.release();
  });

  it('accepts an ioredis client it does not own', async () => {
    const client = new Redis(server.url);
    clients.push(client);
    const name = `own${++counter}`;
    server.seedLimiter(name);
    const store = redisStore({ redis: client, name });
    stores.push(store);
    const lease = await store.tryAcquire(request('t'));
    await store.release(lease as Lease);
    await store.close();
    expect(await client.ping()).toBe('PONG');
  });
});

describe('a refused write, as Redis replies it', () => {
  const failed = (reply: string) =>
    new RedisUnavailableError('acquire', { cause: new Error(reply) });

  it('is read from the reply code, also as Redis before 7 wraps a script call that got it', () => {
    expect(isWriteRefusal(failed("READONLY You can't write against a read only replica."))).toBe(
      true,
    );
    expect(isWriteRefusal(failed("OOM command not allowed when used memory > 'maxmemory'."))).toBe(
      true,
    );
    expect(
      isWriteRefusal(
        failed(
          'ERR Error running script (call to f_5c1f): @user_script:12: @user_script: 12: -MISCONF Redis is configured to save RDB snapshots, but it is currently not able to persist on disk.',
        ),
      ),
    ).toBe(true);
    expect(isWriteRefusal(failed('NOREPLICAS Not enough good replicas to write.'))).toBe(true);
  });

  it('is not any other failure', () => {
    expect(isWriteRefusal(failed('ERR unknown command'))).toBe(false);
    expect(
      isWriteRefusal(failed('ERR Error running script (call to f_5c1f): @user_script:3: boom')),
    ).toBe(false);
    expect(isWriteRefusal(failed('Connection is closed.'))).toBe(false);
    expect(isWriteRefusal(new Error("READONLY You can't write against a read only replica."))).toBe(
      false,
    );
  });
});
