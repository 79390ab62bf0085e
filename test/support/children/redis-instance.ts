// One instance of a service sharing a cap through Redis, driven by the Redis integration
// tests. The JSON argument says what to do: burst (many concurrent creates, report outcomes)
// or hold (take slots and keep them until killed).
import { Cluster, Redis } from 'ioredis';
import { Admission } from '../../../src/admission/admission.js';
import { redisStore } from '../../../src/admission/store/redis/redis-store.js';
import { AdmissionError } from '../../../src/iface/errors.js';
import { SimulatedBackend } from '../../../src/providers/simulated/simulated-backend.js';

interface Plan {
  readonly mode: 'burst' | 'hold';
  readonly redis: { readonly url: string } | { readonly cluster: readonly number[] };
  readonly name: string;
  readonly cap: number;
  readonly tenantCaps?: { readonly defaultMax?: number; readonly max?: Record<string, number> };
  readonly tenants: readonly string[];
  readonly requests: number;
  readonly leaseTtlMs: number;
  readonly sessionMs?: { readonly min: number; readonly max: number };
  readonly localShare?: number;
}

const plan = JSON.parse(process.argv[2]!) as Plan;
const client =
  'url' in plan.redis
    ? new Redis(plan.redis.url)
    : new Cluster(plan.redis.cluster.map((port) => ({ host: '127.0.0.1', port })));
client.on('error', () => undefined); // outages are part of some plans; the store reports them
const store = redisStore({
  redis: client,
  name: plan.name,
  leaseTtlMs: plan.leaseTtlMs,
  timeoutMs: 500,
  pollMs: 50,
  ...(plan.localShare === undefined ? {} : { whenUnavailable: { localShare: plan.localShare } }),
});
store.on('error', () => undefined);
// Setups never fail here: every request that gets a slot must become a session.
const backend = new SimulatedBackend({
  providerConfig: {
    setupLatencyMs: 3,
    overloadFailureRate: 0,
    sessionDurationMs: plan.sessionMs ?? { min: 10, max: 40 },
    seed: process.pid,
  },
});
await backend.start();
const admission = new Admission(backend, {
  maxConcurrentSessions: plan.cap,
  ...(plan.tenantCaps === undefined ? {} : { tenants: plan.tenantCaps }),
  queue: { maxSize: plan.requests, timeoutMs: 60_000 },
  health: false,
  store,
});
admission.on('store_error', () => undefined);
process.stdout.write(`${JSON.stringify({ ready: true })}\n`);

if (plan.mode === 'hold') {
  for (let i = 0; i < plan.requests; i++) await admission.acquire({ tenantId: plan.tenants[0]! });
  process.stdout.write(`${JSON.stringify({ held: plan.requests })}\n`);
  setInterval(() => undefined, 1_000);
} else {
  const refused: Record<string, number> = {};
  let admitted = 0;
  let failed = 0;
  await Promise.all(
    Array.from({ length: plan.requests }, async (_, i) => {
      try {
        const session = await admission.createSession({
          userId: `u${process.pid}-${i}`,
          tenantId: plan.tenants[i % plan.tenants.length]!,
        });
        admitted++;
        await session.closed;
      } catch (error) {
        if (error instanceof AdmissionError) refused[error.code] = (refused[error.code] ?? 0) + 1;
        else failed++;
      }
    }),
  );
  await admission.drain({ timeoutMs: 5_000 });
  await backend.stop();
  await store.close();
  client.disconnect();
  process.stdout.write(`${JSON.stringify({ admitted, refused, failed, held: store.held })}\n`);
}
