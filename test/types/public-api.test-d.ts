import type { MeterProvider, TracerProvider } from '@opentelemetry/api';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-node';
import { describe, expectTypeOf, it } from 'vitest';
import {
  type AdaptiveLimit,
  type AdaptiveLimitOptions,
  type AdmissionError,
  type AdmissionErrorCode,
  type AdmissionOptions,
  type AdmissionRefusal,
  AimdAlgorithm,
  type AimdOptions,
  adaptive,
  type BackendError,
  type BackendErrorCode,
  type CapacityStore,
  type ConfigError,
  createBackend,
  createSessionWithLimit,
  type DrainOnSignalsOptions,
  type GradientOptions,
  type HttpError,
  type LimitAlgorithm,
  type LimitSample,
  type LiveKitAwaitAgentOptions,
  type LiveKitBackend,
  type LiveKitHealthOptions,
  type LiveKitJoinOptions,
  type LiveKitProviderConfig,
  type LiveKitReconcileOptions,
  type LiveKitWebhookOptions,
  type PrometheusLatencySignalOptions,
  type RedisStoreOptions,
  redisStore,
  type registerProvider,
  type SessionConfig,
  type SimulatedBackend,
  type SimulatedProviderConfig,
  type SimulatedTurnsConfig,
  type SloOptions,
  type Slot,
  type TelemetryOptions,
  toHttpError,
  type VoiceBackend,
  type VoiceSession,
} from '../../src/index.js';
import {
  type AcceptArguments,
  type AgentJobAdmission,
  type AgentJobAdmissionOptions,
  ALMOST_FULL,
  admitAgentJobs,
  type LatencySink,
  type TurnLatencyOptions,
} from '../../src/integrations/livekit-agents.js';
import {
  type PrometheusEndpoint,
  type PrometheusOptions,
  setupTracing,
  startPrometheus,
  type Tracing,
  type TracingOptions,
} from '../../src/telemetry/index.js';

declare const admission: import('../../src/index.js').Admission;

describe('createBackend', () => {
  it("gives a LiveKitBackend for 'livekit' and a VoiceBackend for any other name", () => {
    expectTypeOf(
      createBackend('livekit', { providerConfig: { url: 'ws://127.0.0.1:7880' } }),
    ).toEqualTypeOf<Promise<LiveKitBackend>>();
    expectTypeOf(createBackend('simulated')).toEqualTypeOf<Promise<SimulatedBackend>>();
    const fromConfig: string = process.env.VOICE_PROVIDER ?? 'simulated';
    expectTypeOf(createBackend(fromConfig)).toEqualTypeOf<Promise<VoiceBackend>>();
    expectTypeOf<LiveKitBackend>().toExtend<VoiceBackend>();
  });

  it('checkSessionConfig is an optional member of VoiceBackend that every provided backend has', () => {
    expectTypeOf<VoiceBackend['checkSessionConfig']>().toEqualTypeOf<
      ((config: SessionConfig) => void) | undefined
    >();
    // A backend written before it, without the member, is still a VoiceBackend.
    expectTypeOf<Omit<VoiceBackend, 'checkSessionConfig'>>().toExtend<VoiceBackend>();
    expectTypeOf<LiveKitBackend['checkSessionConfig']>().toEqualTypeOf<
      (config: SessionConfig) => void
    >();
    expectTypeOf<SimulatedBackend['checkSessionConfig']>().toEqualTypeOf<
      (config: SessionConfig) => void
    >();
  });

  it("types the LiveKit provider config under 'livekit'", () => {
    // @ts-expect-error url is a string
    void createBackend('livekit', { providerConfig: { url: 7880 } });
    // @ts-expect-error no such LiveKit option
    void createBackend('livekit', { providerConfig: { urll: 'ws://127.0.0.1:7880' } });
    // @ts-expect-error the LiveKit config is required
    void createBackend('livekit');
  });

  it("types the simulated provider's config under 'simulated'", () => {
    void createBackend('simulated', { providerConfig: { setupLatencyMs: 1, jitter: 0 } });
    // @ts-expect-error no such simulated option
    void createBackend('simulated', { providerConfig: { setupLatncyMs: 1 } });
    // @ts-expect-error the latency is in milliseconds, a number
    void createBackend('simulated', { providerConfig: { setupLatencyMs: '1s' } });
  });
});

describe('Admission', () => {
  it('run<T> resolves with what the work returns, sync or async, and hands it the slot', () => {
    expectTypeOf(admission.run({ tenantId: 'acme' }, async () => 42)).toEqualTypeOf<
      Promise<number>
    >();
    expectTypeOf(admission.run({}, () => 'done' as const)).toEqualTypeOf<Promise<'done'>>();
    void admission.run({}, (slot) => {
      expectTypeOf(slot).toEqualTypeOf<Slot>();
      expectTypeOf(slot.signal).toEqualTypeOf<AbortSignal>();
    });
    expectTypeOf(admission.run<string>)
      .parameter(1)
      .returns.toEqualTypeOf<Promise<string> | string>();
  });

  it('createSession and createSessionWithLimit resolve with a VoiceSession', () => {
    expectTypeOf(admission.createSession({ userId: 'u' })).toEqualTypeOf<Promise<VoiceSession>>();
    expectTypeOf(createSessionWithLimit).returns.toEqualTypeOf<Promise<VoiceSession>>();
  });

  it('tryAcquire returns a slot or a refusal value, told apart by release', () => {
    const slot = admission.tryAcquire({ tenantId: 'acme' });
    expectTypeOf(slot).toEqualTypeOf<Slot | AdmissionRefusal>();
    if ('release' in slot) expectTypeOf(slot).toEqualTypeOf<Slot>();
    else expectTypeOf(slot.code).toEqualTypeOf<AdmissionErrorCode>();
  });

  it('stats() says whether the store can take acquires, as every store tells (optionally)', () => {
    expectTypeOf(admission.stats().storeAvailable).toEqualTypeOf<boolean>();
    expectTypeOf<CapacityStore['available']>().toEqualTypeOf<boolean | undefined>();
    const store = redisStore({ redis: 'redis://127.0.0.1:6379', name: 'voice' });
    expectTypeOf(store.available).toEqualTypeOf<boolean>();
  });

  it('options are checked: their documented shape compiles, unknown keys and wrong types do not', () => {
    expectTypeOf({
      maxConcurrentSessions: 100,
      tenants: { defaultMax: 20, max: { acme: 50 } },
      queue: { maxSize: 500, timeoutMs: 10_000 },
      setup: { concurrency: 20, perSecond: 50 },
      health: { intervalMs: 5_000, timeoutMs: 2_000 },
    } as const).toExtend<AdmissionOptions>();
    expectTypeOf({ maxConcurrentSessions: 1, health: false as const }).toExtend<AdmissionOptions>();
    // @ts-expect-error caps are numbers
    expectTypeOf({ maxConcurrentSessions: '100' }).toExtend<AdmissionOptions>();
    // @ts-expect-error no such option
    const unknown: AdmissionOptions = { maxConcurrentSessions: 1, queueSize: 10 };
    void unknown;
  });
});

describe('exactOptionalPropertyTypes', () => {
  it('an option set to undefined means its default, in the types as at run time', () => {
    const fromEnv = Number(process.env.VOICE_LIMIT) || undefined;
    const options: AdmissionOptions = {
      maxConcurrentSessions: fromEnv,
      limit: undefined,
      tenants: { defaultMax: fromEnv, max: undefined },
      queue: { maxSize: fromEnv, maxPerTenant: fromEnv, timeoutMs: fromEnv },
      setup: { concurrency: fromEnv, perSecond: fromEnv, timeoutMs: fromEnv },
      health: { intervalMs: fromEnv, timeoutMs: fromEnv, failureThreshold: fromEnv },
      store: undefined,
      tracer: undefined,
      telemetry: undefined,
    };
    void options;
    admission.setLimits({ maxConcurrentSessions: fromEnv, tenants: { defaultMax: fromEnv } });
    void admission.drain({ timeoutMs: fromEnv, closeTimeoutMs: fromEnv });
  });

  it('every other optional field of the public options takes undefined as well', () => {
    type OptionalKeys<T> = { [K in keyof T]-?: object extends Pick<T, K> ? K : never }[keyof T];
    /** T with every optional field present and undefined. */
    type AllUndefined<T> = Omit<T, OptionalKeys<T>> & { [K in OptionalKeys<T>]: undefined };
    type Options =
      | LiveKitProviderConfig
      | LiveKitAwaitAgentOptions
      | LiveKitWebhookOptions
      | LiveKitReconcileOptions
      | LiveKitHealthOptions
      | LiveKitJoinOptions
      | SimulatedProviderConfig
      | SimulatedTurnsConfig
      | RedisStoreOptions
      | TelemetryOptions
      | PrometheusOptions
      | TracingOptions
      | AgentJobAdmissionOptions
      | AcceptArguments
      | TurnLatencyOptions
      | AdaptiveLimitOptions
      | AimdOptions
      | GradientOptions
      | SloOptions
      | PrometheusLatencySignalOptions
      | DrainOnSignalsOptions
      | Pick<CapacityStore, 'synchronous' | 'available'>
      | NonNullable<Parameters<typeof admission.observeLatency>[1]>
      | NonNullable<Parameters<LatencySink['observeLatency']>[1]>
      | NonNullable<Parameters<typeof registerProvider>[2]>;
    // Distributes over the union: the types that refuse an optional field set to undefined.
    type Refusing<T> = T extends unknown ? (AllUndefined<T> extends T ? never : T) : never;
    expectTypeOf<Refusing<Options>>().toBeNever();
  });
});

describe('events', () => {
  it('a listener gets the payload of its event, and a misspelt event name does not compile', () => {
    admission.on('refused', (event) => {
      expectTypeOf(event.code).toEqualTypeOf<AdmissionErrorCode>();
      expectTypeOf(event.retryAfterMs).toEqualTypeOf<number | undefined>();
    });
    // @ts-expect-error no such event: it would never fire
    admission.on('refsued', () => undefined);
    const store = redisStore({ redis: 'redis://127.0.0.1:6379', name: 'voice' });
    store.on('error', (event) => expectTypeOf(event.operation).toBeString());
    // @ts-expect-error no such event
    store.on('errors', () => undefined);
    void createBackend('livekit', { providerConfig: {} }).then((backend) => {
      backend.on('room_ended', (event) => expectTypeOf(event.roomName).toBeString());
      // @ts-expect-error no such event
      backend.on('room_end', () => undefined);
    });
  });
});

describe('errors', () => {
  it('AdmissionError codes are exactly the documented nine', () => {
    expectTypeOf<AdmissionError['code']>().toEqualTypeOf<
      | 'capacity'
      | 'tenant_capacity'
      | 'queue_full'
      | 'queue_timeout'
      | 'aborted'
      | 'unhealthy'
      | 'draining'
      | 'duplicate'
      | 'store_unavailable'
    >();
    expectTypeOf<AdmissionError['retryAfterMs']>().toEqualTypeOf<number | undefined>();
    expectTypeOf<AdmissionError>().toExtend<Error>();
  });

  it('BackendError carries a code, the operation and the cause; ConfigError names the field', () => {
    expectTypeOf<BackendError['code']>().toEqualTypeOf<BackendErrorCode>();
    expectTypeOf<'timeout'>().toExtend<BackendErrorCode>();
    expectTypeOf<'stopped'>().toExtend<BackendErrorCode>();
    expectTypeOf<BackendError['op']>().toExtend<string>();
    expectTypeOf<ConfigError['code']>().toEqualTypeOf<'invalid_config'>();
    expectTypeOf<ConfigError['field']>().toEqualTypeOf<string>();
  });

  it('toHttpError takes anything and gives status, headers and a body', () => {
    expectTypeOf(toHttpError).parameter(0).toBeUnknown();
    expectTypeOf(toHttpError).returns.toEqualTypeOf<HttpError>();
    expectTypeOf<HttpError['status']>().toBeNumber();
    expectTypeOf<HttpError['headers']>().toEqualTypeOf<Record<string, string>>();
  });
});

describe('telemetry helpers', () => {
  it('startPrometheus takes its options and gives an API meter provider (no SDK type)', () => {
    expectTypeOf(startPrometheus).parameter(0).toEqualTypeOf<PrometheusOptions | undefined>();
    expectTypeOf(startPrometheus).returns.toEqualTypeOf<Promise<PrometheusEndpoint>>();
    expectTypeOf<PrometheusEndpoint['meterProvider']>().toEqualTypeOf<MeterProvider>();
    // @ts-expect-error ports are numbers
    void startPrometheus({ port: '9464' });
  });

  it('setupTracing needs an exporter, accepts any SDK SpanExporter and gives an API tracer provider', () => {
    expectTypeOf(setupTracing({ exporter: new InMemorySpanExporter() })).toEqualTypeOf<
      Promise<Tracing>
    >();
    expectTypeOf<Tracing['tracerProvider']>().toEqualTypeOf<TracerProvider>();
    // @ts-expect-error the exporter is required: nothing goes to the console unless asked
    void setupTracing({});
  });
});

describe('LiveKit agents adapter', () => {
  it('admitAgentJobs takes an admission and its options and gives what ServerOptions spreads', () => {
    expectTypeOf(admitAgentJobs).parameter(1).toEqualTypeOf<AgentJobAdmissionOptions | undefined>();
    expectTypeOf(admitAgentJobs).returns.toEqualTypeOf<AgentJobAdmission>();
    expectTypeOf<AgentJobAdmission['loadThreshold']>().toBeNumber();
    expectTypeOf(ALMOST_FULL).toBeNumber();
    const jobs = admitAgentJobs(admission, {
      waitForSlotMs: 1_000,
      endCheckIntervalMs: 250,
      serverTargetLoad: 0.7,
      server: { url: 'ws://127.0.0.1:7880', apiKey: 'key', apiSecret: 'secret' },
    });
    expectTypeOf(jobs.heldJobs()).toBeNumber();
    // @ts-expect-error the wait is in milliseconds, a number
    void admitAgentJobs(admission, { waitForSlotMs: '1s' });
  });
});

describe('adaptive limits', () => {
  it('aimd is a LimitAlgorithm that tells whether it is still in slow start', () => {
    const aimd = new AimdAlgorithm({ increase: 1, backoff: 0.9 });
    expectTypeOf(aimd).toExtend<LimitAlgorithm>();
    expectTypeOf(aimd.slowStart).toEqualTypeOf<boolean>();
    expectTypeOf(aimd.update).parameters.toEqualTypeOf<[number, LimitSample]>();
    // @ts-expect-error slow start ends by itself, on the first sign of overload
    aimd.slowStart = false;
    expectTypeOf(adaptive({ min: 1, max: 50, algorithm: aimd })).toEqualTypeOf<AdaptiveLimit>();
  });
});
