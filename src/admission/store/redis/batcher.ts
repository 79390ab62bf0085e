interface Pending<I, O> {
  readonly input: I;
  readonly resolve: (output: O) => void;
  readonly reject: (error: unknown) => void;
}

/**
 * Gathers the calls made in one turn of the event loop and runs them in batches of at most
 * `max`, in call order: fifty concurrent acquires cost two Redis scripts instead of fifty
 * round trips.
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
      if (this.#pending.length === 1) queueMicrotask(() => this.#flush());
    });
  }

  #flush(): void {
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
  }
}
