import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { Admission } from '../../../../src/admission/admission.js';
import type { Lease } from '../../../../src/admission/store/capacity-store.js';
import type { RedisLease } from '../../../../src/admission/store/redis/lease-book.js';
import {
  type RedisCapacityStore,
  redisStore,
} from '../../../../src/admission/store/redis/redis-store.js';
import { describeWithBinary } from '../../../support/binaries.js';
import { ControlledBackend } from '../../../support/controlled-backend.js';
import { type RedisServer, startRedis } from '../../../support/redis-server.js';
import { startTcpProxy } from '../../../support/tcp-proxy.js';

const request = (tenantId: string, globalLimit = 5) => ({
  tenantId,
  globalLimit,
  tenantLimit: Number.POSITIVE_INFINITY,
});

describeWithBinary(
  'redis-server',
  'redis store: losing Redis, losing leases, sharing idempotency keys',
  () => {
    let server: RedisServer;
    const stores: RedisCapacityStore[] = [];
    let counter = 0;
    const newStore = (
      name: string,
      extra: Partial<Parameters<typeof redisStore>[0]> = {},
    ): RedisCapacityStore => {
      server.seedLimiter(name);
      const store = redisStore({
        redis: server.url,
        name,
        leaseTtlMs: 1_000,
        timeoutMs: 300,
        pollMs: 50,
        ...extra,
      });
      store.on('error', () => undefined);
      stores.push(store);
      return store;
    };

    /**
     * A store reaching Redis through `url` (a proxy that can delay): its leases' local deadline
     * is 1 s after the call that wrote them, and a call may take up to 2 s before it fails.
     */
    const slowLinkStore = (
      name: string,
      url: string,
      extra: Partial<Parameters<typeof redisStore>[0]> = {},
    ): RedisCapacityStore =>
      newStore(name, {
        redis: url,
        leaseTtlMs: 2_000,
        leaseMarginMs: 1_000,
        timeoutMs: 2_000,
        ...extra,
      });

    beforeAll(async () => {
      server = await startRedis();
    });
    afterEach(async () => {
      await Promise.all(stores.splice(0).map((s) => s.close()));
    });
    afterAll(async () => {
      await server.stop();
    });

    it('Redis losing its data: held leases are re-asserted, and new ones wait until they are', async () => {
      const name = `lost${++counter}`;
      const holder = newStore(name);
      const other = newStore(name);
      const reported: string[] = [];
      for (const store of [holder, other]) {
        store.on('error', ({ operation, error }) => {
          reported.push(`${operation}: ${(error as Error).message}`);
        });
      }
      const leases = [await holder.tryAcquire(request('a')), await holder.tryAcquire(request('a'))];
      await other.tryAcquire(request('b')).then((lease) => other.release(lease as Lease));
      await server.cli('FLUSHALL');
      // `other` saw the limiter before: it notices the loss and opens a recovery window.
      expect(await other.tryAcquire(request('b'))).toEqual({ refused: 'capacity' });
      await holder.renewNow();
      expect(await other.usage()).toEqual({ active: 2, tenants: new Map([['a', 2]]) });
      // Admissions paused for a TTL, refused as `capacity`: each instance says why, once.
      expect(reported).toEqual(
        Array(2).fill(
          "recovery: redis lost the limiter's data (a restart without persistence, a restored snapshot, a failover, a flush or an eviction): new leases wait up to leaseTtlMs while held ones are re-asserted",
        ),
      );
      for (const lease of leases) await holder.release(lease as Lease);
      expect((await other.usage()).active).toBe(0);
    });

    it('a Redis started less than a TTL ago holds new leases back until a TTL after its start, even for an instance that never saw the limiter', async () => {
      const spawnedAt = Date.now();
      const young = await startRedis();
      const readyAt = Date.now();
      try {
        const store = redisStore({ redis: young.url, name: 'young', leaseTtlMs: 1_000 });
        stores.push(store);
        // It may have lost leases whose sessions still run elsewhere, within their TTL.
        expect(await store.tryAcquire(request('a'))).toEqual({ refused: 'capacity' });
        // Until one TTL after the latest moment it can have started: its uptime is whole seconds
        // of a clock Redis caches, so that moment is within a second or two after the start.
        const recoverUntil = Number(
          await young.cli('HGET', 'voice-admission:{young}:epoch', 'recoverUntil'),
        );
        expect(recoverUntil).toBeGreaterThanOrEqual(spawnedAt + 1_000);
        expect(recoverUntil).toBeLessThanOrEqual(readyAt + 1_000 + 2_000);
      } finally {
        await young.stop();
      }
    });

    it('a renewal issued before a release reaches Redis before it, even when Redis lost its script cache', async () => {
      const name = `race${++counter}`;
      const store = newStore(name);
      const lease = (await store.tryAcquire(request('a'))) as Lease;
      await store.renewNow();
      // As after a restart: every script must be sent again. A renewal retried after NOSCRIPT
      // would arrive after the release below and bring the released lease back.
      await server.cli('SCRIPT', 'FLUSH');
      const renewing = store.renewNow();
      const releasing = store.release(lease);
      await Promise.all([renewing, releasing]);
      expect(await store.usage()).toEqual({ active: 0, tenants: new Map() });
    });

    /** A session on `store` whose lease Redis dropped while a rival took the only slot. */
    const loseTheOnlySlot = async (name: string, store: RedisCapacityStore) => {
      const rival = newStore(name);
      const backend = new ControlledBackend({ autoComplete: 'succeed' });
      await backend.start();
      const admission = new Admission(backend, { maxConcurrentSessions: 1, health: false, store });
      admission.on('store_error', () => undefined);
      const lost: string[] = [];
      admission.on('lease_lost', (e) => lost.push(e.sessionId ?? ''));
      const session = await admission.createSession({ userId: 'u' });
      // As if this instance was cut off past the TTL: Redis dropped the lease, a rival took the slot.
      await server.cli(
        'DEL',
        `voice-admission:{${name}}:leases`,
        `voice-admission:{${name}}:tenants`,
      );
      expect((await rival.tryAcquire(request('r', 1))).refused).toBeUndefined();
      await store.renewNow();
      return { admission, session, lost, rival };
    };

    it("leaseLoss 'end': a lease dropped with no room to re-assert ends its session", async () => {
      const name = `gone${++counter}`;
      const store = newStore(name, { leaseLoss: 'end' });
      const { admission, session, lost, rival } = await loseTheOnlySlot(name, store);
      await expect(session.closed).resolves.toMatchObject({ reason: 'lease_lost' });
      expect(lost).toEqual([session.id]);
      expect(admission.active).toBe(0);
      expect(store.stats()).toMatchObject({ held: 0, unleased: 0, lostTotal: 1 });
      expect((await rival.usage()).active).toBe(1);
    });

    it("leaseLoss 'keep': the session goes on, counted as unleased, and nothing new is admitted until it is back in Redis", async () => {
      const name = `kept${++counter}`;
      const store = newStore(name, { leaseLoss: 'keep' });
      const overdue: string[] = [];
      const restored: string[] = [];
      store.on('lease_overdue', (e) => overdue.push(e.reason));
      store.on('lease_restored', (e) => restored.push(e.leaseId));
      const { admission, session, lost, rival } = await loseTheOnlySlot(name, store);
      expect(session.state).toBe('active');
      expect(lost).toEqual([]);
      expect(overdue).toEqual(['no_room']);
      expect(store.stats()).toMatchObject({ held: 1, unleased: 1, overdueTotal: 1, lostTotal: 0 });
      // Nothing new is admitted: a request that cannot wait is refused as at the cap.
      await expect(admission.acquire({}, { timeoutMs: 0 })).rejects.toMatchObject({
        code: 'capacity',
      });
      // The rival leaves: the next renewal re-asserts the running session's lease.
      const [held] = await Promise.all([rival.usage(), store.renewNow()]);
      expect(held.active).toBe(1);
      await rival.close(); // its lease stays until the TTL: release it instead
      await server.cli(
        'DEL',
        `voice-admission:{${name}}:leases`,
        `voice-admission:{${name}}:tenants`,
      );
      await store.renewNow();
      expect(restored).toHaveLength(1);
      expect(store.stats()).toMatchObject({ held: 1, unleased: 0 });
      expect(await store.usage()).toEqual({ active: 1, tenants: new Map([['default', 1]]) });
      await session.close();
      await expect.poll(() => store.usage()).toEqual({ active: 0, tenants: new Map() });
    });

    it("leaseLoss 'keep': requests wait while the instance may not admit, and are granted once it has renewed", async () => {
      const name = `waits${++counter}`;
      const proxy = await startTcpProxy(server.port);
      try {
        const store = newStore(name, { redis: proxy.url, leaseLoss: 'keep', leaseMarginMs: 500 });
        const backend = new ControlledBackend();
        await backend.start();
        const admission = new Admission(backend, {
          maxConcurrentSessions: 3,
          queue: { maxSize: 10, timeoutMs: 30_000 },
          health: false,
          store,
        });
        admission.on('store_error', () => undefined);
        const events: string[] = [];
        const overdue = new Promise((resolve) => store.on('lease_overdue', resolve));
        store.on('lease_restored', () => events.push('restored'));
        const running = await admission.acquire();
        // Cut off past the lease's deadline (not past its TTL): the slot runs unleased.
        proxy.hold();
        await overdue;
        const waiting = admission.acquire().then((slot) => {
          events.push('granted');
          return slot;
        });
        await expect.poll(() => admission.queued).toBe(1);
        expect(store.stats()).toMatchObject({ held: 1, unleased: 1 });
        proxy.release();
        const slot = await waiting;
        expect(events).toEqual(['restored', 'granted']);
        expect(store.stats()).toMatchObject({ held: 2, unleased: 0 });
        slot.release();
        running.release();
        await expect.poll(() => store.usage()).toEqual({ active: 0, tenants: new Map() });
      } finally {
        await proxy.close();
      }
    });

    it("leaseLoss 'end': with Redis frozen, the lease is given up before Redis could expire it", async () => {
      const name = `frozen${++counter}`;
      const store = newStore(name, { leaseLoss: 'end' });
      // Held without admission, so nothing releases it: its expiry stays in Redis to be read.
      const lease = (await store.tryAcquire(request('a'))) as Lease;
      const ended = new Promise<number>((resolve) =>
        store.on('lease_lost', () => resolve(Date.now())),
      );
      server.pause();
      let endedAt: number;
      let whenEnded: ReturnType<RedisCapacityStore['stats']>;
      try {
        endedAt = await ended;
        // Read while Redis is still frozen: once it answers, a renewal counts the lease again.
        whenEnded = store.stats();
      } finally {
        server.resume();
      }
      // Redis's clock is this machine's: the lease was still live in Redis when it was given up.
      const expiry = Number(
        await server.cli('ZSCORE', `voice-admission:{${name}}:leases`, `a\n${lease.id}`),
      );
      expect(expiry).toBeGreaterThan(endedAt);
      expect(whenEnded).toMatchObject({ held: 1, unleased: 1, lostTotal: 1 });
    });

    it('a grant that arrives after its lease could have expired is not used, and is given back', async () => {
      const name = `late${++counter}`;
      const proxy = await startTcpProxy(server.port);
      try {
        const store = slowLinkStore(name, proxy.url);
        // Connected, and the acquire script loaded (a NOSCRIPT retry would double the wait).
        await store.release((await store.tryAcquire(request('a'))) as Lease);
        // A round trip of 1.2 s: the reply comes after the lease's local deadline (1 s).
        proxy.delay(600);
        const acquiring = store.tryAcquire(request('a')).then(
          () => undefined,
          (error: unknown) => error,
        );
        const observer = new Redis(server.url);
        try {
          const leases = `voice-admission:{${name}}:leases`;
          const poll = () => new Promise((resolve) => setTimeout(resolve, 20));
          // The grant is in Redis (with its expiry) while its reply is on the way.
          let granted = await observer.zrange(leases, 0, -1, 'WITHSCORES');
          while (granted.length === 0) {
            await poll();
            granted = await observer.zrange(leases, 0, -1, 'WITHSCORES');
          }
          const expiry = Number(granted[1]);
          expect(String(await acquiring)).toMatch(
            /the grant arrived after its lease could have expired/,
          );
          expect(store.held).toBe(0);
          // Given back, not left to expire: gone from Redis before its expiry.
          while ((await observer.zcard(leases)) > 0) await poll();
          const [seconds, micros] = (await observer.time()).map(Number);
          expect(seconds! * 1000 + micros! / 1000).toBeLessThan(expiry);
        } finally {
          observer.disconnect();
        }
      } finally {
        await proxy.close();
      }
    });

    it.each(['end', 'keep'] as const)(
      'a claim whose reply arrives after its lease could have expired takes no key (leaseLoss %s)',
      async (leaseLoss) => {
        const name = `late-claim-${leaseLoss}${++counter}`;
        const proxy = await startTcpProxy(server.port);
        try {
          const store = slowLinkStore(name, proxy.url, { leaseLoss });
          // Connected, and the scripts loaded (a NOSCRIPT retry would double the wait).
          const warm = (await store.tryAcquire(request('a'))) as Lease;
          await store.claim(warm, 'warm');
          await store.release(warm);
          const lease = (await store.tryAcquire(request('a'))) as RedisLease;
          // A round trip of 1.2 s: the claim runs in Redis at once, its reply comes after the
          // lease's local deadline (1 s), when Redis may have expired the lease and the claim
          // and another instance taken the key.
          proxy.delay(600);
          await expect(store.claim(lease, 'k')).rejects.toThrow(
            /the claim arrived after its lease could have expired/,
          );
          expect(lease.claimKey).toBe('');
          proxy.delay(0);
          await store.release(lease);
          const other = newStore(name);
          const taker = (await other.tryAcquire(request('a'))) as Lease;
          expect(await other.claim(taker, 'k')).toEqual({ claimed: true });
          await other.release(taker);
        } finally {
          await proxy.close();
        }
      },
    );

    it('Redis restarted from a snapshot older than its last writes: the recovery window opens for every instance, then held leases are re-asserted', async () => {
      const name = `snapshot${++counter}`;
      const holder = newStore(name, { leaseTtlMs: 5_000 });
      const fresh = newStore(name);
      const before = (await holder.tryAcquire(request('a'))) as Lease;
      await server.cli('SAVE');
      // Written after the snapshot: lost with the restart.
      const after = (await holder.tryAcquire(request('a'))) as Lease;
      await server.kill();
      await server.restart();
      expect(await server.cli('ZCARD', `voice-admission:{${name}}:leases`)).toBe('1');
      // A store that never talked to this limiter before still sees the window: the snapshot's
      // epoch was written by another Redis process than the one now serving it.
      expect(await fresh.tryAcquire(request('b'))).toEqual({ refused: 'capacity' });
      await holder.renewNow();
      expect(await fresh.usage()).toEqual({ active: 2, tenants: new Map([['a', 2]]) });
      for (const lease of [before, after]) await holder.release(lease);
      expect((await fresh.usage()).active).toBe(0);
    });

    it('the same idempotency key on two instances creates one session; the other gets duplicate with its id', async () => {
      const name = `idem${++counter}`;
      const backend = new ControlledBackend({ autoComplete: 'succeed' });
      await backend.start();
      const first = new Admission(backend, {
        maxConcurrentSessions: 5,
        health: false,
        store: newStore(name),
      });
      const second = new Admission(backend, {
        maxConcurrentSessions: 5,
        health: false,
        store: newStore(name),
      });
      const config = { userId: 'caller', tenantId: 't', idempotencyKey: 'job-42' };
      const session = await first.createSession(config);
      await new Promise((resolve) => setTimeout(resolve, 50)); // the session id is recorded in the background
      await expect(second.createSession(config)).rejects.toMatchObject({
        code: 'duplicate',
        sessionId: session.id,
      });
      expect(second.active).toBe(0);
      expect(backend.setupsStarted).toBe(1);
      // Once the session ends, the key is free everywhere.
      await session.close();
      await new Promise((resolve) => setTimeout(resolve, 50));
      await expect(second.createSession(config)).resolves.toMatchObject({ state: 'active' });
    });

    it("a claim goes with its lease: at once when released, and a crashed instance's once its lease has expired", async () => {
      const name = `claims${++counter}`;
      const crashed = newStore(name, { leaseTtlMs: 200, timeoutMs: 200 });
      const other = newStore(name, { leaseTtlMs: 200, timeoutMs: 200 });
      const claims = async () => [
        await server.cli('HLEN', `voice-admission:{${name}}:claims`),
        await server.cli('HLEN', `voice-admission:{${name}}:claimed`),
      ];
      const released = (await other.tryAcquire(request('t'))) as Lease;
      expect(await other.claim(released, 'job-1')).toEqual({ claimed: true });
      await other.release(released);
      expect(await claims()).toEqual(['0', '0']);
      const lease = (await crashed.tryAcquire(request('t'))) as Lease;
      expect(await crashed.claim(lease, 'job-2')).toEqual({ claimed: true });
      expect(await claims()).toEqual(['1', '1']);
      // Crashed: never renewed nor released again. Any script of another instance purges the
      // expired lease, and its claim with it.
      await crashed.close();
      await expect
        .poll(async () => {
          await other.usage();
          return claims();
        })
        .toEqual(['0', '0']);
    });

    it('whenUnavailable localShare: admits a share of the caps locally while Redis is down, then re-asserts', async () => {
      const name = `share${++counter}`;
      const store = newStore(name, { whenUnavailable: { localShare: 0.5 } });
      const observer = newStore(name);
      await store.usage(); // connected, limiter seen
      await server.kill();
      const local = [];
      for (let i = 0; i < 2; i++) local.push(await store.tryAcquire(request('a', 4)));
      expect(local.every((lease) => lease.refused === undefined)).toBe(true);
      expect(await store.tryAcquire(request('a', 4))).toEqual({ refused: 'capacity' });
      await server.restart();
      for (let i = 0; i < 50 && store.held > 0; i++) {
        await store.renewNow().catch(() => undefined);
        if ((await observer.usage()).active === 2) break;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect((await observer.usage()).active).toBe(2);
      for (const lease of local) await store.release(lease as Lease);
      expect((await observer.usage()).active).toBe(0);
    }, 30_000);

    it('a failover behind one address: the connection left on the demoted primary moves to the new one, held leases are re-asserted, the cap holds', async () => {
      // Without a delay before the replica's first sync (5 s by default).
      const primary = await startRedis(['--repl-diskless-sync-delay', '0']);
      const replica = await startRedis();
      const proxy = await startTcpProxy(primary.port);
      try {
        primary.seedLimiter('failover');
        await replica.cli('REPLICAOF', '127.0.0.1', String(primary.port));
        const store = redisStore({ redis: proxy.url, name: 'failover', leaseTtlMs: 1_000 });
        stores.push(store);
        const reported: string[] = [];
        store.on('error', ({ operation }) => reported.push(operation));
        for (let i = 0; i < 3; i++) await store.tryAcquire(request('a'));
        expect(await primary.cli('WAIT', '1', '5000')).toBe('1'); // the replica has the leases
        // As a managed Redis fails over: the replica takes over, the old primary follows it, and
        // the address leads new connections to the new primary; the open one stays where it was.
        await replica.cli('REPLICAOF', 'NO', 'ONE');
        await primary.cli('REPLICAOF', '127.0.0.1', String(replica.port));
        proxy.retarget(replica.port);
        // Left on the old primary, every script failed with READONLY, for good.
        await expect
          .poll(() => store.tryAcquire(request('a')).catch(() => undefined), { timeout: 5_000 })
          .toHaveProperty('id');
        expect(reported).toContain('recovery');
        expect(await replica.cli('ZCARD', 'voice-admission:{failover}:leases')).toBe('4');
        expect(await store.tryAcquire(request('a'))).toHaveProperty('id');
        expect(await store.tryAcquire(request('a'))).toEqual({ refused: 'capacity' });
      } finally {
        await proxy.close();
        await Promise.all([primary.stop(), replica.stop()]);
      }
    }, 30_000);
  },
);
