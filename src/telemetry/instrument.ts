import { type MeterProvider, metrics, trace } from '@opentelemetry/api';
import type { Attached, Instrumentation, ObservedAdmission } from '../admission/instrumentation.js';
import { VERSION } from '../version.js';
import { createInstruments } from './instruments.js';
import { AdmissionMetrics } from './metrics.js';
import { resolveTelemetryOptions, type TelemetryOptions } from './options.js';
import { OtelAdmissionTracer } from './spans.js';
import { TenantLabels } from './tenant-labels.js';

const SCOPE = 'voice-admission';

interface MeterState {
  readonly metrics: AdmissionMetrics;
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
    const labels = new TenantLabels(options.maxTenants, options.tenants);
    state = { metrics: new AdmissionMetrics(meter, createInstruments(meter), labels), labels };
    meters.set(meterProvider, state);
  }
  const tracer = (options.tracerProvider ?? trace.getTracerProvider()).getTracer(SCOPE, VERSION);
  return {
    tracer: new OtelAdmissionTracer(tracer, state.labels, options.recordUserId),
    detach: state.metrics.observe(admission),
  };
}
