/** One finished session setup, as a limit algorithm sees it. */
export interface LimitSample {
  /** How long the setup took (backend create, not queue wait). */
  readonly latencyMs: number;
  /** The setup failed (a failure is the strongest sign of overload). */
  readonly failed: boolean;
  /**
   * Units in use (sessions or setups, for the limit it feeds) when the setup started. A setup
   * that started with more in use than the limit now allows ran under an older, higher limit:
   * it cannot cause another decrease (as TCP backs off once per round trip), else the tail of
   * one overload would cut the limit again and again.
   */
  readonly inflight: number;
}

/**
 * A concurrency-limit algorithm: given the current estimate and one sample, the next estimate
 * (a real number; the controller floors and bounds it). State is small and updated per
 * sample; nothing runs on a timer. Samples arrive about `estimate` times per round trip, so
 * algorithms scale their per-sample steps by 1/estimate to move per round trip, not per sample.
 */
export interface LimitAlgorithm {
  readonly name: string;
  update(estimate: number, sample: LimitSample): number;
}
