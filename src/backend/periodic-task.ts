/**
 * Runs `run` every `intervalMs` on an unref'ed timer (it never keeps the process alive), one
 * run at a time; `runNow` joins a run under way instead of starting a second one.
 */
export class PeriodicTask<T> {
  readonly #run: () => Promise<T>;
  readonly #onError: (error: unknown) => void;
  #intervalMs = 0;
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<T> | undefined;
  #stopped = true;

  constructor(run: () => Promise<T>, onError: (error: unknown) => void) {
    this.#run = run;
    this.#onError = onError;
  }

  start(intervalMs: number): void {
    this.#intervalMs = intervalMs;
    this.#stopped = false;
    this.#schedule();
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  runNow(): Promise<T> {
    if (this.#running !== undefined) return this.#running;
    const running = this.#run().finally(() => {
      this.#running = undefined;
    });
    this.#running = running;
    return running;
  }

  #schedule(): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.runNow().then(
        () => this.#schedule(),
        (error: unknown) => {
          this.#onError(error);
          this.#schedule();
        },
      );
    }, this.#intervalMs);
    this.#timer.unref();
  }
}
