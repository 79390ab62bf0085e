export type {
  Attached,
  Instrumentation,
  ObservedAdmission,
} from '../admission/instrumentation.js';
export { MissingPeerError } from '../internal/peers.js';
export { openTelemetry } from './instrument.js';
export type { TelemetryOptions } from './options.js';
export { type PrometheusEndpoint, type PrometheusOptions, startPrometheus } from './prometheus.js';
export { ADMISSION_SPAN, CREATE_SPAN } from './spans.js';
export { OTHER_TENANT } from './tenant-labels.js';
export {
  type SpanExporterLike,
  setupTracing,
  type Tracing,
  type TracingOptions,
} from './tracing.js';
