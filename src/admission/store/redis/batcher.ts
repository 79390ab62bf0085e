interface Pending<I, O> {
  readonly input: I;
  readonly resolve: (output: O) => void;
  readonly reject: (error: unknown) => void;
}

/**
 * Gathers the calls made in one turn of the event loop and runs them in batches of at most
 * `max`, in call order: fifty concurrent acquires cost two Redis scripts instead of fifty
 * round trips. It flushes on `process.nextTick`, which runs once the promise callbacks under
 * way have all run: the grants of one Redis reply, the releases their holders make at once and
 * the waiters those wake go out together, not one script per step of the promise chain.
 */
export class Batcher<I, O> {
  readonly #run: (inputs: readonly I[]) => Promise<readonly O[]>;
  readonly #max: number;
  #pending: Pending<I, O>[] = [];

  constructor(run: (inputs: readonly I[]) => Promise<readonly O[]>, max: number) {
    this.#run = run;
    this.#max = max;
  }

  add(input: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.#pending.push({ input, resolve, reject });
      if (this.#pending.length === 1) process.nextTick(this.#flush);
    });
  }

  readonly #flush = (): void => {
    const pending = this.#pending;
    this.#pending = [];
    for (let start = 0; start < pending.length; start += this.#max) {
      const batch = pending.slice(start, start + this.#max);
      this.#run(batch.map((call) => call.input)).then(
        (outputs) => {
          for (const [i, call] of batch.entries()) call.resolve(outputs[i]!);
        },
        (error: unknown) => {
          for (const call of batch) call.reject(error);
        },
      );
    }
  };
}
