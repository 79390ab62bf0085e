/** One finished session setup, as a limit algorithm sees it. */
export interface LimitSample {
  /** How long the setup took (backend create, not queue wait). */
  readonly latencyMs: number;
  /** The setup failed (a failure is the strongest sign of overload). */
  readonly failed: boolean;
  /** Units in use when the sample was taken (sessions or setups, for the limit it feeds). */
  readonly inflight: number;
}

/**
 * A concurrency-limit algorithm: given the current estimate and one sample, the next estimate
 * (a real number; the controller floors and bounds it). State is small and updated per
 * sample; nothing runs on a timer.
 */
export interface LimitAlgorithm {
  readonly name: string;
  update(estimate: number, sample: LimitSample): number;
}
