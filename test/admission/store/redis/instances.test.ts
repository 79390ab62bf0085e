import { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { redisStore } from '../../../../src/admission/store/redis/redis-store.js';
import { describeWithBinary } from '../../../support/binaries.js';
import { monitorLeases, startInstance } from '../../../support/redis-instances.js';
import {
  type RedisServer,
  seedLimiter,
  startRedis,
  startRedisCluster,
} from '../../../support/redis-server.js';

const TENANTS = ['t0', 't1', 't2', 't3'];
const TENANT_CAPS = { defaultMax: 15, max: { t0: 20 } };

function burstPlan(redis: object, name: string, extra: Record<string, unknown> = {}) {
  return {
    mode: 'burst',
    redis,
    name,
    cap: 50,
    tenantCaps: TENANT_CAPS,
    tenants: TENANTS,
    requests: 300,
    leaseTtlMs: 2_000,
    ...extra,
  };
}

function expectWithinCaps(peaks: { global: number; tenants: Record<string, number> }): void {
  expect(peaks.global).toBeLessThanOrEqual(50);
  expect(peaks.tenants.t0 ?? 0).toBeLessThanOrEqual(20);
  for (const tenant of ['t1', 't2', 't3'])
    expect(peaks.tenants[tenant] ?? 0).toBeLessThanOrEqual(15);
}

describeWithBinary('redis-server', 'many instances sharing one cap through Redis', () => {
  let server: RedisServer;
  let monitorClient: Redis;

  beforeAll(async () => {
    server = await startRedis();
    monitorClient = new Redis(server.url);
    monitorClient.on('error', () => undefined); // one test kills the server on purpose
  });
  afterAll(async () => {
    monitorClient.disconnect();
    await server.stop();
  });

  it('four processes bursting 300 creates each never hold more than the global or a tenant cap', async () => {
    server.seedLimiter('burst');
    const monitor = monitorLeases(monitorClient, 'burst');
    const instances = Array.from({ length: 4 }, () =>
      startInstance(burstPlan({ url: server.url }, 'burst')),
    );
    const reports = await Promise.all(instances.map((i) => i.report));
    await monitor.stop();
    expect(reports.map((r) => [r.admitted, r.held])).toEqual([
      [300, 0],
      [300, 0],
      [300, 0],
      [300, 0],
    ]);
    expect(monitor.peaks.samples).toBeGreaterThan(10);
    expectWithinCaps(monitor.peaks);
    // The burst really pushed against the cap, and everything came back.
    expect(monitor.peaks.global).toBe(50);
    expect(await monitorClient.zcard('voice-admission:{burst}:leases')).toBe(0);
    expect(await monitorClient.hlen('voice-admission:{burst}:tenants')).toBe(0);
  }, 120_000);

  it('SIGKILL of a process holding slots: its slots come back within the lease TTL, the others keep theirs', async () => {
    server.seedLimiter('kill');
    const hold = {
      mode: 'hold',
      redis: { url: server.url },
      name: 'kill',
      cap: 50,
      requests: 10,
      leaseTtlMs: 1_000,
    };
    const victim = startInstance({ ...hold, tenants: ['victim'] });
    const survivor = startInstance({ ...hold, tenants: ['survivor'], requests: 5 });
    await Promise.all([victim.report, survivor.report]);
    const observer = redisStore({ redis: server.url, name: 'kill' });
    expect(await observer.usage()).toEqual({
      active: 15,
      tenants: new Map([
        ['victim', 10],
        ['survivor', 5],
      ]),
    });
    victim.child.kill('SIGKILL');
    await victim.exited;
    // Not freed early: a crashed instance's slots count until their TTL has passed.
    expect((await observer.usage()).active).toBe(15);
    let usage = await observer.usage();
    for (let i = 0; i < 100 && usage.active !== 5; i++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      usage = await observer.usage();
    }
    expect(usage).toEqual({ active: 5, tenants: new Map([['survivor', 5]]) });
    // The survivor goes on renewing: its slots stay well past the TTL.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect((await observer.usage()).active).toBe(5);
    survivor.child.kill('SIGTERM');
    await survivor.exited;
    await observer.close();
  }, 60_000);

  it('Redis killed and restarted mid-burst: refusals while it is down, no cap violation after, no leaked slots', async () => {
    server.seedLimiter('outage');
    const instances = Array.from({ length: 3 }, () =>
      // Calls outlast the outage, so their leases must be re-asserted after the restart.
      startInstance(
        burstPlan({ url: server.url }, 'outage', {
          requests: 40,
          sessionMs: { min: 800, max: 1_500 },
        }),
      ),
    );
    await Promise.all(instances.map((i) => i.ready));
    await new Promise((resolve) => setTimeout(resolve, 300));
    await server.kill();
    await new Promise((resolve) => setTimeout(resolve, 700));
    await server.restart();
    monitorClient.disconnect();
    monitorClient = new Redis(server.url);
    monitorClient.on('error', () => undefined);
    const monitor = monitorLeases(monitorClient, 'outage');
    const reports = await Promise.all(instances.map((i) => i.report));
    await monitor.stop();
    expectWithinCaps(monitor.peaks);
    const refusedWhileDown = reports.reduce(
      (n, r) => n + ((r.refused as Record<string, number>).store_unavailable ?? 0),
      0,
    );
    expect(refusedWhileDown).toBeGreaterThan(0);
    for (const report of reports) expect(report.failed).toBe(0);
    // Held leases were re-asserted into the emptied Redis, and new ones admitted after.
    expect(monitor.peaks.global).toBeGreaterThan(0);
    expect(reports.reduce((n, r) => n + (r.admitted as number), 0)).toBeGreaterThan(50);
    expect(await monitorClient.zcard('voice-admission:{outage}:leases')).toBe(0);
  }, 120_000);
});

describeWithBinary('redis-server', 'the same burst on a Redis Cluster of three masters', () => {
  let cluster: Awaited<ReturnType<typeof startRedisCluster>>;
  beforeAll(async () => {
    cluster = await startRedisCluster(3);
  }, 60_000);
  afterAll(async () => {
    await cluster?.stop();
  });

  it('never holds more than the caps and releases everything', async () => {
    const client = new Cluster(cluster.ports.map((port) => ({ host: '127.0.0.1', port })));
    seedLimiter(cluster.ports[0]!, 'cluster');
    const monitor = monitorLeases(client, 'cluster');
    const instances = Array.from({ length: 4 }, () =>
      startInstance(burstPlan({ cluster: cluster.ports }, 'cluster')),
    );
    const reports = await Promise.all(instances.map((i) => i.report));
    await monitor.stop();
    expect(reports.map((r) => [r.admitted, r.refused, r.failed, r.stats])).toEqual(
      Array.from({ length: 4 }, () => [300, {}, 0, expect.anything()]),
    );
    expectWithinCaps(monitor.peaks);
    expect(monitor.peaks.global).toBe(50);
    expect(await client.zcard('voice-admission:{cluster}:leases')).toBe(0);
    client.disconnect();
  }, 120_000);
});
