export type {
  BackendConfig,
  BackendState,
  CallOptions,
  ProviderFactory,
  VoiceBackend,
} from './backend.js';
export type {
  AdmissionErrorCode,
  AdmissionErrorOptions,
  BackendErrorCode,
  BackendErrorOptions,
  BackendOperation,
} from './errors.js';
export { AdmissionError, BackendError, ConfigError } from './errors.js';
export type { HealthState, HealthStatus } from './health.js';
export type {
  AgentCallback,
  ConnectionInfo,
  SessionConfig,
  SessionEnd,
  SessionEndReason,
  SessionState,
  VoiceSession,
} from './session.js';
export type { TelemetryOptions } from './telemetry.js';
