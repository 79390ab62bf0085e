import fc from 'fast-check';
import { vi } from 'vitest';
import { Admission } from '../../src/admission/admission.js';
import type { SetupOptions } from '../../src/admission/options.js';
import { memoryStore } from '../../src/admission/store/memory-store.js';
import type { AdmissionSpan, AdmissionTracer } from '../../src/admission/tracer.js';
import { AdmissionError } from '../../src/iface/errors.js';
import type { VoiceSession } from '../../src/iface/session.js';
import { CheckingStore } from './checking-store.js';
import { flush, type Tracked, track } from './flush.js';
import { type CreatePlan, HostileBackend } from './hostile-backend.js';
import { type LimitOp, limitOpArbitraries, type ScenarioTenant, TENANTS } from './scenario-ops.js';

/**
 * Random interleavings against a real Admission over a hostile backend (creates that settle
 * late, ignore their abort signal, finish before tearing down, fail after opening) and callers
 * that abort at every await point. Checked from what the backend really has open, at every
 * change: the global and tenant caps, one live session per idempotency key; and at the end:
 * every promise settled, nothing open or held after the drain, one `refused` per refusal.
 * With `admissions: 2`, two Admissions share one memory store (and so one set of caps), each
 * with its own keys: the caps hold across both, and a slot either frees lets the other's
 * waiters in.
 *
 * Runs under the fake clock (`useFakeClock`). Returns the violations found, so a soak can count
 * them; the property test expects none.
 */

const KEYS = ['k1', 'k2'] as const;
/** Every tenant's cap unless a run changes it. */
const TENANT_CAP = 2;

/** When a caller hangs up: never, N microtask turns after its call or after its create settled, or after some time. */
type Hangup =
  | { readonly kind: 'never' }
  | { readonly kind: 'ticks'; readonly after: 'call' | 'settle'; readonly ticks: number }
  | { readonly kind: 'ms'; readonly ms: number };

export type HostileOp =
  | {
      readonly kind: 'request';
      /** Which Admission it asks (modulo how many there are). */
      readonly via: number;
      readonly tenant: ScenarioTenant;
      readonly key: (typeof KEYS)[number] | undefined;
      /** Another user reusing a key: must get `duplicate`, never a session. */
      readonly otherUser: boolean;
      readonly plan: CreatePlan;
      readonly hangup: Hangup;
      readonly waitMs: number | undefined;
      /** Retries once, from its own failure handler, when refused or failed (not when it hung up). */
      readonly retry: boolean;
    }
  | { readonly kind: 'advance'; readonly ms: number }
  | { readonly kind: 'close' | 'remoteEnd' | 'abort'; readonly pick: number }
  | LimitOp
  | {
      readonly kind: 'drain';
      readonly via: number;
      readonly timeoutMs: number;
      /** Short enough, the drain ends with slots still held, released later. */
      readonly closeTimeoutMs: number;
    };

export interface HostileRun {
  /** Admissions sharing the store (1 unless given). */
  readonly admissions?: number;
  readonly limit: number;
  /** Burst smoothing on (p-queue) or off. */
  readonly setup: SetupOptions;
  readonly ops: readonly HostileOp[];
}

const planArbitrary: fc.Arbitrary<CreatePlan> = fc.record({
  settleMs: fc.constantFrom(0, 10, 50, 400),
  outcome: fc.constantFrom('succeed', 'succeed', 'succeed', 'fail'),
  onAbort: fc.constantFrom('honour', 'finish-then-teardown', 'ignore'),
  closeMs: fc.constantFrom(0, 5, 40),
  closeThrows: fc.constantFrom(false, false, false, true),
  closedRejects: fc.constantFrom(false, false, false, true),
  synchronous: fc.constantFrom(false, false, false, true),
  closedLagMs: fc.constantFrom(0, 0, 0, 20),
  endsDuringCreate: fc.constantFrom(false, false, false, false, false, true),
});

const hangupArbitrary: fc.Arbitrary<Hangup> = fc.oneof(
  { weight: 3, arbitrary: fc.constant({ kind: 'never' as const }) },
  {
    weight: 3,
    arbitrary: fc.record({
      kind: fc.constant('ticks' as const),
      after: fc.constantFrom('call', 'settle'),
      ticks: fc.integer({ min: 0, max: 12 }),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ kind: fc.constant('ms' as const), ms: fc.constantFrom(5, 30, 300) }),
  },
);

export const hostileOpArbitrary: fc.Arbitrary<HostileOp> = fc.oneof(
  {
    weight: 7,
    arbitrary: fc.record({
      kind: fc.constant('request' as const),
      via: fc.nat(1),
      tenant: fc.constantFrom(...TENANTS),
      key: fc.option(fc.constantFrom(...KEYS), { nil: undefined, freq: 2 }),
      otherUser: fc.constantFrom(false, false, false, false, false, true),
      plan: planArbitrary,
      hangup: hangupArbitrary,
      waitMs: fc.option(fc.constantFrom(0, 100, 1_000), { nil: undefined }),
      retry: fc.boolean(),
    }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      kind: fc.constant('advance' as const),
      ms: fc.constantFrom(1, 10, 45, 200, 500),
    }),
  },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('close' as const), pick: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('remoteEnd' as const), pick: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ kind: fc.constant('abort' as const), pick: fc.nat() }) },
  ...limitOpArbitraries,
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('drain' as const),
      via: fc.nat(1),
      timeoutMs: fc.constantFrom(0, 50, 1_000, Number.POSITIVE_INFINITY),
      closeTimeoutMs: fc.constantFrom(0, 10, 1_000, 1_000),
    }),
  },
);

export const hostileRunArbitrary: fc.Arbitrary<HostileRun> = fc.record({
  limit: fc.integer({ min: 1, max: 4 }),
  setup: fc.oneof(
    fc.constant({}),
    fc.constant({ timeoutMs: 100 }),
    fc.record({ concurrency: fc.integer({ min: 1, max: 3 }) }),
    fc.record({
      concurrency: fc.integer({ min: 1, max: 3 }),
      perSecond: fc.constantFrom(20, 200),
      timeoutMs: fc.constantFrom(100, Number.POSITIVE_INFINITY),
    }),
  ),
  ops: fc.array(hostileOpArbitrary, { minLength: 1, maxLength: 30 }),
});

/** Runs of two Admissions sharing one memory store (and its caps), each asked in turn. */
export const sharedStoreRunArbitrary: fc.Arbitrary<HostileRun> = hostileRunArbitrary.map((run) => ({
  ...run,
  admissions: 2,
}));

interface Caller {
  readonly key: string | undefined;
  readonly controller: AbortController;
  readonly tracked: Tracked<VoiceSession>;
}

/** Lets `ticks` microtask turns pass, then runs `then`. */
function afterTicks(ticks: number, then: () => void): void {
  let turn = Promise.resolve();
  for (let i = 0; i < ticks; i++) turn = turn.then(() => undefined);
  void turn.then(then);
}

/** Runs one interleaving; returns what broke (empty when every invariant held). */
export async function runHostile(run: HostileRun): Promise<string[]> {
  const violations: string[] = [];
  const backend = new HostileBackend();
  const store = new CheckingStore(memoryStore());
  const spans = new SpanCounter();
  const admissions = Array.from(
    { length: run.admissions ?? 1 },
    () =>
      new Admission(backend, {
        maxConcurrentSessions: run.limit,
        tenants: { defaultMax: TENANT_CAP },
        queue: { maxSize: 6, maxPerTenant: 4, timeoutMs: 500 },
        setup: run.setup,
        health: false,
        store,
        tracer: spans,
      }),
  );
  // Caps are changed on an Admission still open: the one sharing them with the other.
  const changing = (): Admission =>
    admissions.find((admission) => admission.state === 'open') ?? admissions[0]!;
  const active = (): number => admissions.reduce((sum, a) => sum + a.active, 0);
  const plans = new Map<string, CreatePlan>();
  backend.plan = (config) => plans.get(config.userId)!;
  const hangupsAtSettle = new Map<string, () => void>();
  backend.onSettle = (config) => hangupsAtSettle.get(config.userId)?.();
  // Lowering a cap never evicts: what is open is bounded by the highest cap in force so far.
  let peakCap = run.limit;
  const peakTenantCap = new Map<string, number>(TENANTS.map((t) => [t, TENANT_CAP]));
  // Checked at the instant the provider opens or closes something.
  backend.onOpen = () => {
    if (backend.open > store.held) {
      violations.push(`backend has ${backend.open} open with ${store.held} slots held`);
    }
    if (backend.open > peakCap) {
      violations.push(`backend has ${backend.open} open over the cap ${peakCap}`);
    }
    for (const tenant of TENANTS) {
      const open = backend.openFor(tenant);
      if (open > store.tenantHeld(tenant)) {
        violations.push(`tenant ${tenant} has ${open} open with ${store.tenantHeld(tenant)} held`);
      }
      if (open > peakTenantCap.get(tenant)!) {
        violations.push(
          `tenant ${tenant} has ${open} open over its cap ${peakTenantCap.get(tenant)}`,
        );
      }
    }
    for (const key of backend.keysOpenTwice()) violations.push(`key ${key} open twice`);
  };
  let refused = 0;
  for (const admission of admissions) admission.on('refused', () => refused++);

  const callers: Caller[] = [];
  const drains = new Map<
    Admission,
    { readonly drain: Promise<unknown>; readonly tracked: Tracked<unknown> }
  >();
  // Every drain after the first joins it, bringing its deadlines forward if they end sooner.
  const drain = (
    admission: Admission,
    timeoutMs: number,
    closeTimeoutMs = 1_000,
  ): Tracked<unknown> => {
    const next = admission.drain({ timeoutMs, closeTimeoutMs });
    const drained = drains.get(admission) ?? { drain: next, tracked: track(next) };
    if (next !== drained.drain) violations.push('a second drain started');
    drains.set(admission, drained);
    return drained.tracked;
  };
  const pick = <T>(items: readonly T[], n: number): T | undefined =>
    items.length === 0 ? undefined : items[n % items.length];

  for (const op of run.ops) {
    switch (op.kind) {
      case 'request': {
        const index = op.via % admissions.length;
        const admission = admissions[index]!;
        // Each Admission has keys of its own: a memory store does not share them.
        const key = op.key === undefined || admissions.length === 1 ? op.key : `${op.key}@${index}`;
        const userId =
          op.key === undefined
            ? `u${callers.length}`
            : op.otherUser
              ? `intruder${callers.length}`
              : `owner-${key}`;
        // Each caller of a shared key has its own plan; the backend sees the creator's.
        plans.set(userId, op.plan);
        const controller = new AbortController();
        const hangUp = (): void => controller.abort(new Error('caller hung up'));
        const request = (): Promise<VoiceSession> =>
          admission.createSession(
            {
              userId,
              tenantId: op.tenant,
              ...(key === undefined ? {} : { idempotencyKey: key }),
            },
            {
              signal: controller.signal,
              ...(op.waitMs === undefined ? {} : { timeoutMs: op.waitMs }),
            },
          );
        let promise = request();
        if (op.retry) {
          // The retry is made in the same turn as the failure, before anything else runs.
          promise = promise.catch((error: unknown) => {
            if (controller.signal.aborted) throw error;
            const retried = request();
            callers.push({ key, controller, tracked: track(retried) });
            throw error;
          });
        }
        const { hangup } = op;
        if (hangup.kind === 'ticks' && hangup.after === 'call') afterTicks(hangup.ticks, hangUp);
        if (hangup.kind === 'ticks' && hangup.after === 'settle') {
          hangupsAtSettle.set(userId, () => afterTicks(hangup.ticks, hangUp));
        }
        if (hangup.kind === 'ms') setTimeout(hangUp, hangup.ms);
        callers.push({ key, controller, tracked: track(promise) });
        break;
      }
      case 'advance':
        vi.advanceTimersByTime(op.ms);
        break;
      case 'close':
        closeQuietly(pick(backend.listSessions(), op.pick));
        break;
      case 'remoteEnd': {
        const session = pick(backend.listSessions(), op.pick);
        if (session !== undefined) backend.endFromServer(session.id);
        break;
      }
      case 'abort':
        pick(callers, op.pick)?.controller.abort(new Error('caller hung up'));
        break;
      case 'setLimit':
        peakCap = Math.max(peakCap, op.max);
        changing().setLimits({ maxConcurrentSessions: op.max });
        break;
      case 'setTenantLimit':
        peakTenantCap.set(op.tenant, Math.max(peakTenantCap.get(op.tenant)!, op.max ?? TENANT_CAP));
        changing().setTenantLimit(op.tenant, op.max);
        break;
      case 'drain':
        drain(admissions[op.via % admissions.length]!, op.timeoutMs, op.closeTimeoutMs);
        break;
    }
    await settleTurns();
    if (active() !== store.held) {
      violations.push(`admission counts ${active()} slots, the store ${store.held}`);
    }
    // Nobody waits who could be admitted: what blocks a waiter is what the store holds.
    for (const admission of admissions) {
      const stats = admission.stats();
      if (!stats.admitting) continue;
      for (const tenant of stats.tenants) {
        if (tenant.queued === 0) continue;
        if (store.held < stats.limit && store.tenantHeld(tenant.tenantId) < tenant.limit) {
          violations.push(`tenant ${tenant.tenantId} waits while admissible`);
        }
      }
    }
  }

  // Wind down: drain (forcing a patient one), then let every late create and close run out.
  const endings = admissions.map((admission) => drain(admission, 100));
  const pending = (): boolean => endings.some((ending) => ending.result.status === 'pending');
  // A session's `closed` may settle after its teardown: its slot is released then.
  const busy = (): boolean => pending() || backend.open > 0 || store.held > 0;
  for (let i = 0; i < 60 && busy(); i++) {
    vi.advanceTimersByTime(50);
    await settleTurns();
  }
  if (pending()) violations.push('drain never resolved');
  if (backend.open !== 0) violations.push(`${backend.open} left open after the drain`);
  if (store.held !== 0 || active() !== 0) {
    violations.push(`${store.held} slots held after the drain (admission: ${active()})`);
  }
  violations.push(
    ...store.violations,
    ...store.unreleased().map((id) => `lease ${id} never released`),
  );
  let refusals = 0;
  for (const caller of callers) {
    const { status, error } = caller.tracked.result;
    if (status === 'pending') violations.push('a caller was never answered');
    if (status === 'rejected' && error instanceof AdmissionError) refusals++;
  }
  if (refused !== refusals) {
    violations.push(`${refusals} callers refused, ${refused} refused events`);
  }
  violations.push(...spans.unbalanced());
  return violations;
}

/** A tracer that checks every admission span is ended exactly once. */
class SpanCounter implements AdmissionTracer {
  readonly #ends: number[] = [];

  startAdmission(): AdmissionSpan {
    const index = this.#ends.push(0) - 1;
    return {
      // Chains on the create's promise, as the OpenTelemetry span does.
      runCreate: (create) => create().then((session) => session),
      end: () => {
        this.#ends[index]!++;
      },
    };
  }

  unbalanced(): string[] {
    return this.#ends.filter((n) => n !== 1).map((n) => `a span ended ${n} times`);
  }
}

/** Lets promise chains run out (store answers, closes, microtask hang-ups). */
async function settleTurns(): Promise<void> {
  for (let i = 0; i < 4; i++) await flush();
}

/** Closes `session` as its owner would, whether its close rejects or throws. */
function closeQuietly(session: VoiceSession | undefined): void {
  try {
    session?.close().catch(() => undefined);
  } catch {
    // A hostile close that throws still tears the session down.
  }
}
