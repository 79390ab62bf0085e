export { AdaptiveLimit, type AdaptiveLimitOptions, adaptive } from './adaptive-limit.js';
export { AimdAlgorithm, type AimdOptions } from './aimd.js';
export type { LimitAlgorithm, LimitSample } from './algorithm.js';
export { GradientAlgorithm, type GradientOptions } from './gradient.js';
export {
  LatencySignalError,
  type LatencySignalErrorCode,
  type PrometheusLatencySignal,
  type PrometheusLatencySignalOptions,
  prometheusLatencySignal,
  type QuantileSink,
} from './prometheus-signal.js';
export type {
  LatencySignalState,
  SloController,
  SloOptions,
  SloStats,
} from './slo-limit.js';
