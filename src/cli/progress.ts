/** A one-line progress bar on a terminal; silent when the stream is not a TTY. */
export class ProgressBar {
  readonly #stream: NodeJS.WriteStream;
  readonly #total: number;
  #last = 0;

  constructor(stream: NodeJS.WriteStream, total: number) {
    this.#stream = stream;
    this.#total = total;
  }

  update(done: number, note: string): void {
    if (!this.#stream.isTTY) return;
    const now = performance.now();
    if (done < this.#total && now - this.#last < 100) return; // at most ten redraws a second
    this.#last = now;
    const width = 30;
    const filled = Math.round((done / this.#total) * width);
    this.#stream.write(
      `\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${this.#total} ${note}\x1b[K`,
    );
    if (done === this.#total) this.#stream.write('\n');
  }
}
