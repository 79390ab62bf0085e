import { type Meter, type MeterProvider, metrics, trace } from '@opentelemetry/api';
import type { Attached, Instrumentation, ObservedAdmission } from '../admission/instrumentation.js';
import { VERSION } from '../version.js';
import { createInstruments, type Instruments } from './instruments.js';
import { observeAdmission } from './metrics.js';
import { resolveTelemetryOptions, type TelemetryOptions } from './options.js';
import { OtelAdmissionTracer } from './spans.js';
import { TenantLabels } from './tenant-labels.js';

const SCOPE = 'voice-admission';

interface MeterState {
  readonly meter: Meter;
  readonly instruments: Instruments;
  /** Shared by every admission on this meter provider, so the cardinality bound is global. */
  readonly labels: TenantLabels;
}

const meters = new WeakMap<MeterProvider, MeterState>();

/**
 * Reports admissions through OpenTelemetry: the metric table of docs/autoscaling.md and the
 * `create_session_with_limit` spans. Pass it as an admission's `telemetry` option (the
 * package entry's `Admission` does so by default). The global providers are read when an
 * admission is created: register the SDK first, or pass `meterProvider` / `tracerProvider`.
 */
export function openTelemetry(raw: TelemetryOptions = {}): Instrumentation {
  const options = resolveTelemetryOptions(raw);
  return { attach: (admission) => attach(admission, options) };
}

function attach(
  admission: ObservedAdmission,
  options: ReturnType<typeof resolveTelemetryOptions>,
): Attached {
  const meterProvider = options.meterProvider ?? metrics.getMeterProvider();
  let state = meters.get(meterProvider);
  if (state === undefined) {
    const meter = meterProvider.getMeter(SCOPE, VERSION);
    state = {
      meter,
      instruments: createInstruments(meter),
      labels: new TenantLabels(options.maxTenants, options.tenants),
    };
    meters.set(meterProvider, state);
  }
  const tracer = (options.tracerProvider ?? trace.getTracerProvider()).getTracer(SCOPE, VERSION);
  return {
    tracer: new OtelAdmissionTracer(tracer, state.labels, options.recordUserId),
    detach: observeAdmission(admission, state.meter, state.instruments, state.labels),
  };
}
