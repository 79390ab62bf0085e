/**
 * Latency samples of the last `windowMs`, for a quantile over them. Samples arrive in time
 * order, so expiry drops from the front; the count is bounded (the oldest samples go first)
 * so a flood of reports cannot grow the heap.
 */
export class LatencyWindow {
  readonly #windowMs: number;
  readonly #maxSamples: number;
  #times: number[] = [];
  #values: number[] = [];
  #head = 0;

  constructor(windowMs: number, maxSamples = 10_000) {
    this.#windowMs = windowMs;
    this.#maxSamples = maxSamples;
  }

  add(latencyMs: number, now: number): void {
    this.#times.push(now);
    this.#values.push(latencyMs);
    if (this.size > this.#maxSamples) this.#head++;
    this.#compact();
  }

  /** Samples still inside the window at `now`. */
  count(now: number): number {
    this.#expire(now);
    return this.size;
  }

  /** The `q` quantile (nearest rank) of the samples inside the window, or undefined if none. */
  quantile(q: number, now: number): number | undefined {
    this.#expire(now);
    if (this.size === 0) return undefined;
    const sorted = this.#values.slice(this.#head).sort((a, b) => a - b);
    return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
  }

  /** Forgets every sample: they describe a load the limit no longer allows. */
  clear(): void {
    this.#times = [];
    this.#values = [];
    this.#head = 0;
  }

  get size(): number {
    return this.#times.length - this.#head;
  }

  #expire(now: number): void {
    const oldest = now - this.#windowMs;
    while (this.#head < this.#times.length && (this.#times[this.#head] as number) <= oldest)
      this.#head++;
    this.#compact();
  }

  /** Drops expired entries from the arrays once they are half the storage. */
  #compact(): void {
    if (this.#head < 1024 || this.#head * 2 < this.#times.length) return;
    this.#times = this.#times.slice(this.#head);
    this.#values = this.#values.slice(this.#head);
    this.#head = 0;
  }
}
