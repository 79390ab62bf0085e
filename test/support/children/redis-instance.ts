// One instance of a service sharing a cap through Redis, driven by the Redis integration
// tests. The JSON argument says what to do: burst (many concurrent creates, report outcomes),
// hold (take slots and keep them until killed) or load (creates without end until "stop" on
// stdin, printing when each backend session opens and closes and when the process ran late, for
// the fault tests; with `waitForGo`, starting only on "go").
import { Cluster, Redis } from 'ioredis';
import { Admission } from '../../../src/admission/admission.js';
import { redisStore } from '../../../src/admission/store/redis/redis-store.js';
import { AdmissionError } from '../../../src/iface/errors.js';
import { SimulatedBackend } from '../../../src/providers/simulated/simulated-backend.js';
import { machineClock as clock } from '../machine-clock.js';

interface Plan {
  readonly mode: 'burst' | 'hold' | 'load';
  readonly redis: { readonly url: string } | { readonly cluster: readonly number[] };
  readonly name: string;
  readonly cap: number;
  readonly tenantCaps?: { readonly defaultMax?: number; readonly max?: Record<string, number> };
  readonly tenants: readonly string[];
  readonly requests: number;
  readonly leaseTtlMs: number;
  readonly sessionMs?: { readonly min: number; readonly max: number };
  readonly localShare?: number;
  readonly leaseLoss?: 'end' | 'keep';
  readonly leaseMarginMs?: number;
  /** load: concurrent create loops. */
  readonly concurrency?: number;
  /** load: every other create carries one of this many idempotency keys (per tenant). */
  readonly keys?: number;
  /** load: start creating (the first script sent to Redis) only on "go" on stdin. */
  readonly waitForGo?: boolean;
}

const plan = JSON.parse(process.argv[2]!) as Plan;
const client =
  'url' in plan.redis
    ? new Redis(plan.redis.url)
    : new Cluster(plan.redis.cluster.map((port) => ({ host: '127.0.0.1', port })));
client.on('error', () => undefined); // outages are part of some plans; the store reports them
// Start once connected: a cluster client that is still discovering its slots fails commands at
// once, which would turn a slow start into refusals the plan is not about.
if (client.status !== 'ready') await new Promise((resolve) => client.once('ready', resolve));
const store = redisStore({
  redis: client,
  name: plan.name,
  leaseTtlMs: plan.leaseTtlMs,
  timeoutMs: 500,
  pollMs: 50,
  ...(plan.localShare === undefined ? {} : { whenUnavailable: { localShare: plan.localShare } }),
  ...(plan.leaseLoss === undefined ? {} : { leaseLoss: plan.leaseLoss }),
  ...(plan.leaseMarginMs === undefined ? {} : { leaseMarginMs: plan.leaseMarginMs }),
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
const print = (line: Record<string, unknown>): void => {
  process.stdout.write(`${JSON.stringify(line)}\n`);
};
/** How often a load instance checks whether it runs late, and from how late it says so (ms). */
const STALL_BEAT_MS = 20;
const STALL_REPORTED_MS = 100;
if (plan.mode === 'load') {
  // What the backend really has open: from the create call until the session has closed.
  const create = backend.createSession.bind(backend);
  let opened = 0;
  backend.createSession = async (config, options) => {
    const id = `${process.pid}-${++opened}`;
    print({ open: id, tenant: config.tenantId, key: config.idempotencyKey ?? null, t: clock() });
    try {
      const session = await create(config, options);
      void session.closed.then(() => print({ close: id, t: clock() }));
      return session;
    } catch (error) {
      print({ close: id, t: clock() });
      throw error;
    }
  };
  store.on('lease_lost', (event) => print({ lease_lost: event.reason, t: clock() }));
  store.on('lease_overdue', (event) => print({ lease_overdue: event.reason, t: clock() }));
  // When this process ran late (not scheduled, or its loop held up): an instance held up past its
  // lease margin cannot act on its leases in time, so it is, for the caps, a paused one
  // (docs/redis.md). Printed so that a fault test's failure says whether that happened.
  let beatAt = clock();
  setInterval(() => {
    const now = clock();
    const late = now - beatAt - STALL_BEAT_MS;
    if (late >= STALL_REPORTED_MS) print({ stalled: Math.round(late), t: now });
    beatAt = now;
  }, STALL_BEAT_MS).unref();
}
const admission = new Admission(backend, {
  maxConcurrentSessions: plan.cap,
  ...(plan.tenantCaps === undefined ? {} : { tenants: plan.tenantCaps }),
  queue: { maxSize: plan.requests, timeoutMs: 60_000 },
  health: false,
  store,
});
admission.on('store_error', () => undefined);
process.stdout.write(`${JSON.stringify({ ready: true })}\n`);

if (plan.mode === 'load') {
  let stopping = false;
  let go: () => void = () => undefined;
  const started = new Promise<void>((resolve) => {
    go = resolve;
  });
  process.stdin.on('data', (chunk) => {
    if (chunk.toString().includes('stop')) stopping = true;
    if (chunk.toString().includes('go')) go();
  });
  if (plan.waitForGo === true) await started;
  const outcomes: Record<string, number> = {};
  let n = 0;
  await Promise.all(
    Array.from({ length: plan.concurrency ?? 5 }, async () => {
      while (!stopping) {
        const i = n++;
        const tenantId = plan.tenants[i % plan.tenants.length]!;
        const keyed = plan.keys !== undefined && i % 2 === 0;
        try {
          const session = await admission.createSession({
            userId: `u${process.pid}-${i}`,
            tenantId,
            ...(keyed ? { idempotencyKey: `k${Math.floor(Math.random() * plan.keys!)}` } : {}),
          });
          outcomes.admitted = (outcomes.admitted ?? 0) + 1;
          await session.closed;
        } catch (error) {
          const code = error instanceof AdmissionError ? error.code : 'failed';
          outcomes[code] = (outcomes[code] ?? 0) + 1;
          // Refusals answer at once: pace the retry so a refusing instance does not spin.
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
      }
    }),
  );
  // Calls still running are closed at once: the test has seen what it needed.
  await admission.drain({ timeoutMs: 0 });
  await backend.stop();
  await store.close();
  client.disconnect();
  print({ admitted: outcomes.admitted ?? 0, outcomes, held: store.held });
} else if (plan.mode === 'hold') {
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
  process.stdout.write(
    `${JSON.stringify({ admitted, refused, failed, held: store.held, stats: store.stats() })}\n`,
  );
}
