/**
 * A one-line progress bar on a terminal; silent when the stream is not a TTY, or is one that
 * cannot redraw a line (`TERM=dumb` shows the escape codes).
 */
export class ProgressBar {
  readonly #stream: NodeJS.WriteStream;
  readonly #total: number;
  readonly #shown: boolean;
  #last = 0;
  /** A bar is drawn and its line not yet ended. */
  #open = false;

  constructor(stream: NodeJS.WriteStream, total: number, env: NodeJS.ProcessEnv = process.env) {
    this.#stream = stream;
    this.#total = total;
    this.#shown = stream.isTTY === true && env.TERM !== 'dumb';
  }

  update(done: number, note: string): void {
    if (!this.#shown) return;
    const now = performance.now();
    if (done < this.#total && now - this.#last < 100) return; // at most ten redraws a second
    this.#last = now;
    const width = 30;
    const filled = Math.round((done / this.#total) * width);
    this.#stream.write(
      `\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${this.#total} ${note}\x1b[K`,
    );
    this.#open = true;
    if (done === this.#total) this.end();
  }

  /** Ends the bar's line, for a run stopped short of its total (Ctrl-C). */
  end(): void {
    if (!this.#open) return;
    this.#stream.write('\n');
    this.#open = false;
  }
}
