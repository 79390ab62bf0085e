import { describe, expectTypeOf, it } from 'vitest';
import {
  type AcquireOptions,
  type AcquireRequest,
  type AcquireResult,
  type AdaptiveLimit,
  Admission,
  type AdmissionErrorCode,
  type AdmissionEvents,
  type AdmissionOptions,
  type AdmissionOutcome,
  type AdmissionSpan,
  type AdmissionSpanInfo,
  type AdmissionSpanResult,
  type AdmissionState,
  type AdmissionStats,
  type AdmissionTracer,
  type Attached,
  adaptive,
  admissionFor,
  type CapacityStore,
  type ClaimResult,
  type CreateSessionOptions,
  type DequeueOutcome,
  type DrainOptions,
  type DrainResult,
  drainOnSignals,
  GradientAlgorithm,
  type HealthGateOptions,
  type HealthStatus,
  type Instrumentation,
  isRefusal,
  LatencySignalError,
  type LatencySignalErrorCode,
  type LatencySignalState,
  type Lease,
  type LimitAlgorithm,
  type LimitsUpdate,
  MemoryCapacityStore,
  memoryStore,
  type ObservedAdmission,
  type PrometheusLatencySignal,
  prometheusLatencySignal,
  type QuantileSink,
  type QueueOptions,
  type Refusal,
  type RefusalReason,
  type SessionConfig,
  type SetupOptions,
  type SloController,
  type SloStats,
  type SlotRequest,
  type StoreUsage,
  type TenantLimitsOptions,
  type TenantStats,
  type VoiceBackend,
} from '../../src/index.js';

declare const admission: Admission;
declare const backend: VoiceBackend;
declare const span: AdmissionSpan;
declare const result: AcquireResult;
declare const claim: ClaimResult;

describe('Admission', () => {
  it('is built from a backend and its options, and its state is one of three', () => {
    expectTypeOf(Admission).constructorParameters.toEqualTypeOf<[VoiceBackend, AdmissionOptions]>();
    expectTypeOf(admission.state).toEqualTypeOf<AdmissionState>();
    expectTypeOf<AdmissionState>().toEqualTypeOf<'open' | 'draining' | 'drained'>();
    expectTypeOf(admission.store).toEqualTypeOf<CapacityStore>();
    expectTypeOf(admission.tenantLimit).toEqualTypeOf<(tenantId: string) => number>();
    expectTypeOf(admission.checkHealth()).toEqualTypeOf<Promise<HealthStatus>>();
    // @ts-expect-error the state changes only through drain()
    admission.state = 'drained';
  });

  it('acquire takes a slot request and acquire options; createSession the session options', () => {
    expectTypeOf(admission.acquire).parameters.toEqualTypeOf<
      [request?: SlotRequest, options?: AcquireOptions]
    >();
    expectTypeOf(admission.createSession).parameters.toEqualTypeOf<
      [config: SessionConfig, options?: CreateSessionOptions]
    >();
    expectTypeOf<CreateSessionOptions>().toExtend<AcquireOptions>();
    expectTypeOf<AcquireOptions['signal']>().toEqualTypeOf<AbortSignal | undefined>();
    expectTypeOf<SlotRequest>().toEqualTypeOf<{
      readonly tenantId?: string | undefined;
      readonly priority?: number | undefined;
    }>();
    // @ts-expect-error the priority goes with the session options, not the acquire options
    void admission.acquire({}, { priority: 1 });
    // @ts-expect-error a timeout is in milliseconds, a number
    void admission.createSession({ userId: 'u' }, { timeoutMs: '1s' });
  });

  it('setLimits takes caps only; drain its timeouts and resolves with what it did', () => {
    expectTypeOf(admission.setLimits).parameter(0).toEqualTypeOf<LimitsUpdate>();
    // @ts-expect-error the queue is not changed at run time
    admission.setLimits({ queue: { maxSize: 1 } });
    expectTypeOf(admission.drain).parameter(0).toEqualTypeOf<DrainOptions | undefined>();
    expectTypeOf(admission.drain()).toEqualTypeOf<Promise<DrainResult>>();
    expectTypeOf<DrainResult['timedOut']>().toEqualTypeOf<boolean>();
    expectTypeOf<DrainResult['stillActive']>().toEqualTypeOf<number>();
  });

  it('stats() reports the state, each tenant and the SLO controller when there is one', () => {
    const stats = admission.stats();
    expectTypeOf(stats).toEqualTypeOf<AdmissionStats>();
    expectTypeOf(stats.state).toEqualTypeOf<AdmissionState>();
    expectTypeOf(stats.tenants).toEqualTypeOf<readonly TenantStats[]>();
    expectTypeOf<TenantStats>().toEqualTypeOf<{
      readonly tenantId: string;
      readonly active: number;
      readonly queued: number;
      readonly limit: number;
    }>();
    expectTypeOf(stats.slo).toEqualTypeOf<SloStats | undefined>();
    expectTypeOf(stats.health).toEqualTypeOf<HealthStatus | undefined>();
  });

  it('events: each has its payload, a dequeue its outcome', () => {
    admission.on('dequeued', (event) => {
      expectTypeOf(event.outcome).toEqualTypeOf<DequeueOutcome>();
    });
    admission.on('drained', (event) => expectTypeOf(event).toEqualTypeOf<DrainResult>());
    admission.on('latency_signal', (event) =>
      expectTypeOf(event).toEqualTypeOf<LatencySignalState>(),
    );
    expectTypeOf<DequeueOutcome>().toEqualTypeOf<
      | 'admitted'
      | 'queue_timeout'
      | 'tenant_capacity'
      | 'aborted'
      | 'draining'
      | 'store_unavailable'
    >();
    expectTypeOf<AdmissionEvents['store_error']['operation']>().toEqualTypeOf<
      'acquire' | 'release' | 'bind'
    >();
    expectTypeOf(admission.on('admitted', () => undefined)).toEqualTypeOf<() => void>();
  });

  it('is what telemetry observes', () => {
    expectTypeOf(admission).toExtend<ObservedAdmission>();
    expectTypeOf<ObservedAdmission['stats']>().returns.toEqualTypeOf<AdmissionStats>();
  });
});

describe('options', () => {
  it('each section has its own type, and a misspelt field in one does not compile', () => {
    expectTypeOf<NonNullable<AdmissionOptions['tenants']>>().toEqualTypeOf<TenantLimitsOptions>();
    expectTypeOf<NonNullable<AdmissionOptions['queue']>>().toEqualTypeOf<QueueOptions>();
    expectTypeOf<NonNullable<AdmissionOptions['setup']>>().toEqualTypeOf<SetupOptions>();
    expectTypeOf<NonNullable<AdmissionOptions['health']>>().toEqualTypeOf<
      HealthGateOptions | false
    >();
    expectTypeOf<SetupOptions['concurrency']>().toEqualTypeOf<number | AdaptiveLimit | undefined>();
    expectTypeOf<TenantLimitsOptions['max']>().toEqualTypeOf<
      Readonly<Record<string, number>> | undefined
    >();
    // @ts-expect-error no such queue option
    const queue: QueueOptions = { maxsize: 1 };
    // @ts-expect-error the health interval is a number of milliseconds
    const health: HealthGateOptions = { intervalMs: '5s' };
    // @ts-expect-error per second, not per minute
    const setup: SetupOptions = { perMinute: 1 };
    void [queue, health, setup];
  });

  it('telemetry is false, OpenTelemetry options or an Instrumentation', () => {
    expectTypeOf<Instrumentation['attach']>().toEqualTypeOf<
      (admission: ObservedAdmission) => Attached
    >();
    expectTypeOf<Attached>().toEqualTypeOf<{
      readonly tracer: AdmissionTracer | undefined;
      readonly detach: () => void;
    }>();
    expectTypeOf({ telemetry: {} as Instrumentation }).toExtend<AdmissionOptions>();
    // @ts-expect-error true is not an option: telemetry is on unless false
    expectTypeOf({ telemetry: true }).toExtend<AdmissionOptions>();
  });

  it('a tracer starts an admission span that ends with an outcome', () => {
    expectTypeOf<AdmissionTracer['startAdmission']>().toEqualTypeOf<
      (info: AdmissionSpanInfo) => AdmissionSpan
    >();
    expectTypeOf<AdmissionSpanInfo>().toEqualTypeOf<{
      readonly tenantId: string;
      readonly userId: string;
    }>();
    expectTypeOf<AdmissionSpan['end']>().parameter(0).toEqualTypeOf<AdmissionSpanResult>();
    expectTypeOf<AdmissionSpanResult['outcome']>().toEqualTypeOf<AdmissionOutcome>();
    expectTypeOf<AdmissionOutcome>().toEqualTypeOf<
      'admitted' | 'joined' | 'create_failed' | AdmissionErrorCode
    >();
    expectTypeOf(span.runCreate(async () => 1)).toEqualTypeOf<Promise<number>>();
  });
});

describe('createSessionWithLimit', () => {
  it("admissionFor gives the entry's Admission the backend was limited with, if any", () => {
    expectTypeOf(admissionFor).parameters.toEqualTypeOf<[backend: VoiceBackend]>();
    expectTypeOf(admissionFor(backend)).toEqualTypeOf<Admission | undefined>();
  });
});

describe('drainOnSignals', () => {
  it('takes anything that drains and its options, and gives a function that uninstalls it', () => {
    expectTypeOf(drainOnSignals(admission)).toEqualTypeOf<() => void>();
    drainOnSignals(admission, {
      signals: ['SIGTERM'],
      timeoutMs: 10_000,
      exit: false,
      onDrained: (result) => {
        expectTypeOf(result).toEqualTypeOf<DrainResult>();
      },
    });
    // @ts-expect-error not a signal name
    drainOnSignals(admission, { signals: ['SIGTERMINATE'] });
    // @ts-expect-error a backend does not drain
    drainOnSignals(backend);
  });
});

describe('capacity stores', () => {
  it('a store answers an acquire request with a lease or a refusal, told apart by isRefusal', () => {
    expectTypeOf<AcquireResult>().toEqualTypeOf<Lease | Refusal>();
    expectTypeOf<AcquireRequest>().toEqualTypeOf<{
      readonly tenantId: string;
      readonly globalLimit: number;
      readonly tenantLimit: number;
    }>();
    expectTypeOf<Refusal['refused']>().toEqualTypeOf<RefusalReason>();
    expectTypeOf<RefusalReason>().toEqualTypeOf<'capacity' | 'tenant_capacity'>();
    if (isRefusal(result)) expectTypeOf(result).toEqualTypeOf<Refusal>();
    else expectTypeOf(result).toEqualTypeOf<Lease>();
    // @ts-expect-error a refusal is a store's answer, not an admission's
    isRefusal(admission.tryAcquire());
  });

  it('a key claim either wins or names the session that holds the key', () => {
    if (claim.claimed) expectTypeOf(claim).toEqualTypeOf<{ readonly claimed: true }>();
    else expectTypeOf(claim.sessionId).toEqualTypeOf<string | undefined>();
    expectTypeOf<NonNullable<CapacityStore['claim']>>().returns.toEqualTypeOf<
      Promise<ClaimResult>
    >();
  });

  it('memoryStore gives a synchronous store that is always available', () => {
    const store = memoryStore();
    expectTypeOf(store).toEqualTypeOf<MemoryCapacityStore>();
    expectTypeOf(store).toExtend<CapacityStore>();
    // Always known: an admission takes its synchronous path with it.
    expectTypeOf(store.synchronous).toEqualTypeOf<boolean>();
    expectTypeOf(store.available).toEqualTypeOf<boolean>();
    expectTypeOf<MemoryCapacityStore['kind']>().toEqualTypeOf<'memory'>();
    expectTypeOf(store.tryAcquire).returns.toEqualTypeOf<AcquireResult>();
    expectTypeOf(store.usage()).toEqualTypeOf<StoreUsage>();
    expectTypeOf<StoreUsage['tenants']>().toEqualTypeOf<ReadonlyMap<string, number>>();
    expectTypeOf(new MemoryCapacityStore()).toEqualTypeOf<MemoryCapacityStore>();
  });
});

describe('adaptive limits', () => {
  it('gradient is a LimitAlgorithm built from its options', () => {
    expectTypeOf(new GradientAlgorithm()).toExtend<LimitAlgorithm>();
    expectTypeOf(
      new GradientAlgorithm({ tolerance: 1.5, queueSize: 4 }),
    ).toExtend<LimitAlgorithm>();
    // @ts-expect-error no such gradient option
    void new GradientAlgorithm({ tolerence: 1.5 });
    expectTypeOf(
      adaptive({ min: 1, max: 10, algorithm: 'gradient' }),
    ).toEqualTypeOf<AdaptiveLimit>();
  });

  it('an SLO limit has a controller whose stats say whether its signal is live', () => {
    const limit = adaptive({ min: 1, max: 50, slo: { targetMs: 800 } });
    expectTypeOf(limit.slo).toEqualTypeOf<SloController | undefined>();
    expectTypeOf<ReturnType<SloController['stats']>>().toEqualTypeOf<SloStats>();
    expectTypeOf<SloStats>().toExtend<LatencySignalState>();
    expectTypeOf<LatencySignalState['state']>().toEqualTypeOf<'live' | 'missing'>();
    expectTypeOf<LatencySignalState['quantileMs']>().toEqualTypeOf<number | undefined>();
    // @ts-expect-error the target is required
    adaptive({ min: 1, max: 50, slo: {} });
  });

  it('prometheusLatencySignal feeds a quantile sink and can be stopped', () => {
    const limit = adaptive({ min: 1, max: 50, slo: { targetMs: 800 } });
    expectTypeOf(limit).toExtend<QuantileSink>();
    const signal = prometheusLatencySignal(limit, {
      url: 'http://127.0.0.1:9090',
      query: 'histogram_quantile(0.95, rate(x[1m]))',
      unit: 'seconds',
      onError: (error) => expectTypeOf(error.code).toEqualTypeOf<LatencySignalErrorCode>(),
    });
    expectTypeOf(signal).toEqualTypeOf<PrometheusLatencySignal>();
    expectTypeOf(signal.stop).toEqualTypeOf<() => void>();
    // @ts-expect-error the query is required
    prometheusLatencySignal(limit, { url: 'http://127.0.0.1:9090' });
    // @ts-expect-error seconds or milliseconds
    prometheusLatencySignal(limit, { url: 'http://x', query: 'q', unit: 'minutes' });
    // @ts-expect-error an admission is no quantile sink
    prometheusLatencySignal(admission, { url: 'http://x', query: 'q' });
  });

  it('LatencySignalError is an Error whose code says what went wrong', () => {
    expectTypeOf<LatencySignalError>().toExtend<Error>();
    expectTypeOf<LatencySignalError['code']>().toEqualTypeOf<LatencySignalErrorCode>();
    expectTypeOf<LatencySignalErrorCode>().toEqualTypeOf<
      'unreachable' | 'query_failed' | 'no_data' | 'bad_value'
    >();
    // @ts-expect-error not one of its codes
    void new LatencySignalError('timeout', 'message');
  });
});
