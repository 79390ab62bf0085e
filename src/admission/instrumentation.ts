import type { Admission } from './admission.js';
import type { AdmissionTracer } from './tracer.js';

/** Observers attached to one admission: a tracer for its spans, and how to stop observing. */
export interface Attached {
  readonly tracer: AdmissionTracer | undefined;
  readonly detach: () => void;
}

/**
 * What reports an admission's metrics and spans. Admission knows nothing of OpenTelemetry: the
 * package entry point installs the OpenTelemetry implementation as the default, which a
 * new Admission attaches unless its options say `telemetry: false`.
 */
export interface Instrumentation {
  attach(admission: Admission, options: unknown): Attached;
}

let fallback: Instrumentation | undefined;

/** Installs the instrumentation new admissions attach by default (undefined: none). */
export function setDefaultInstrumentation(instrumentation: Instrumentation | undefined): void {
  fallback = instrumentation;
}

export function defaultInstrumentation(): Instrumentation | undefined {
  return fallback;
}
