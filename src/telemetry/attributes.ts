/**
 * Attribute names of the metrics and spans, in the OpenTelemetry semantic conventions' style:
 * namespaced under `voice.`, and the convention's own `error.type` for the error a failed
 * operation ended with. Prometheus shows them with `_` for `.` (`voice_tenant`).
 */
export const ATTRIBUTE = {
  /** The tenant, bounded: tenants beyond `maxTenants` share `other`. */
  tenant: 'voice.tenant',
  /** The backend's provider name (`livekit`, `simulated`, ...). */
  provider: 'voice.provider',
  /** Why a request was refused: an `AdmissionError` code. */
  reason: 'voice.admission.reason',
  /** How a request left the queue, or how an admission ended. */
  outcome: 'voice.admission.outcome',
  /** What a limit applies to: `global`, `tenant` or `setup`. */
  scope: 'voice.capacity.scope',
  /** The code of the error a failed operation ended with (semantic conventions). */
  errorType: 'error.type',
} as const;
