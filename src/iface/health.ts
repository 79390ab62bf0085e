/** Overall state of a backend as seen by its last health check. */
export type HealthState = 'healthy' | 'degraded' | 'unhealthy';

/** The result of `VoiceBackend.healthCheck()`. */
export interface HealthStatus {
  /** `true` unless `status` is `'unhealthy'`: a degraded backend still serves. */
  readonly healthy: boolean;
  readonly status: HealthState;
  /** Epoch milliseconds at which the check finished. */
  readonly checkedAt: number;
  /** How long the check took. */
  readonly latencyMs: number;
  /** Why the backend is not healthy (never contains a secret). */
  readonly reason?: string | undefined;
  /** Provider-specific facts, e.g. per-probe latencies. */
  readonly details?: Readonly<Record<string, unknown>> | undefined;
}
