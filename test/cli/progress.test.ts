import { describe, expect, it } from 'vitest';
import { ProgressBar } from '../../src/cli/progress.js';

/** A stream that records what is written to it, a terminal or not. */
function stream(isTTY: boolean) {
  const written = { text: '' };
  const out = {
    isTTY,
    write: (chunk: string) => {
      written.text += chunk;
      return true;
    },
  } as unknown as NodeJS.WriteStream;
  return { out, written };
}

describe('the progress bar', () => {
  it('ends its line when the run stops short, so what follows starts on a line of its own', () => {
    const { out, written } = stream(true);
    const bar = new ProgressBar(out, 10, {});
    bar.update(4, 'responses');
    bar.end();
    expect(written.text.split('\r').at(-1)).toBe(
      `[${'#'.repeat(12)}${'.'.repeat(18)}] 4/10 responses\x1b[K\n`,
    );
  });

  it('ends its line once: a bar drawn to the end already did', () => {
    const { out, written } = stream(true);
    const bar = new ProgressBar(out, 2, {});
    bar.update(2, 'responses');
    bar.end();
    expect(written.text.split('\r').at(-1)).toBe(`[${'#'.repeat(30)}] 2/2 responses\x1b[K\n`);
  });

  it('writes nothing where it cannot redraw a line: not a terminal, or TERM=dumb', () => {
    for (const [isTTY, env] of [
      [false, {}],
      [true, { TERM: 'dumb' }],
    ] as const) {
      const { out, written } = stream(isTTY);
      const bar = new ProgressBar(out, 2, env);
      bar.update(1, 'responses');
      bar.update(2, 'responses');
      bar.end();
      expect(written.text).toBe('');
    }
  });
});
