import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** Named figures one contender measured in one round (ops/s, bytes, ns...). */
export type Figures = Record<string, number>;
/** What a case module exports for its isolated contenders: name -> measure once. */
export type Contenders = Record<string, () => Promise<Figures>>;

const CHILD = fileURLToPath(new URL('./child.ts', import.meta.url));
const CHILD_TIMEOUT_MS = 300_000;

/** A contender's process: `ready` once loaded (with `together`), `go` starts its measurement. */
interface Child {
  readonly ready: Promise<void>;
  go(): void;
  readonly figures: Promise<Figures>;
}

/**
 * Starts `name` from `moduleUrl` in its own process. With `together` it loads, says it is
 * ready and waits for `go()` before measuring; otherwise it measures at once.
 */
function startChild(moduleUrl: string, name: string, together: boolean): Child {
  const child = spawn(
    process.execPath,
    ['--expose-gc', '--import', 'tsx', CHILD, moduleUrl, name, ...(together ? ['--on-go'] : [])],
    { stdio: ['pipe', 'pipe', 'pipe'], timeout: CHILD_TIMEOUT_MS },
  );
  let stdout = '';
  let stderr = '';
  let markReady = (): void => undefined;
  const ready = new Promise<void>((resolve) => {
    markReady = resolve;
  });
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk;
    if (stdout.startsWith('ready\n')) markReady();
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk;
  });
  const figures = new Promise<Figures>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code !== 0) {
        reject(new Error(`contender ${name} failed (${signal ?? `exit ${code}`})\n${stderr}`));
        return;
      }
      const line = stdout.trim().split('\n').at(-1) ?? '';
      resolve(JSON.parse(line) as Figures);
    });
  });
  // A child that dies before it is ready must not leave the round waiting for it, and the
  // `go` then written to its closed stdin is nobody's error: its exit is reported.
  figures.then(markReady, markReady);
  child.stdin.on('error', () => undefined);
  return { ready, go: () => child.stdin.end('go\n'), figures };
}

/**
 * Every contender in its own process, rounds interleaved (A B C, A B C...) so drift on a
 * shared machine hits them all alike. With `together`, for cases that mostly wait on timers,
 * a round starts every contender's process, waits until all have loaded, then lets them
 * measure at once: side by side under the same conditions, in the time of one. Returns each
 * contender's figures per round.
 */
export async function interleaved(
  moduleUrl: string,
  names: readonly string[],
  rounds: number,
  options: { readonly together?: boolean } = {},
): Promise<Map<string, Figures[]>> {
  const samples = new Map<string, Figures[]>(names.map((name) => [name, []]));
  for (let round = 0; round < rounds; round++) {
    if (options.together === true) {
      const children = names.map((name) => startChild(moduleUrl, name, true));
      await Promise.all(children.map((child) => child.ready));
      for (const child of children) child.go();
      const figures = await Promise.all(children.map((child) => child.figures));
      for (const [i, name] of names.entries()) samples.get(name)!.push(figures[i]!);
    } else {
      for (const name of names) {
        const child = startChild(moduleUrl, name, false);
        child.go();
        samples.get(name)!.push(await child.figures);
      }
    }
  }
  return samples;
}

/** Median and range of a sample. */
export interface Spread {
  readonly median: number;
  readonly min: number;
  readonly max: number;
}

export function spread(values: readonly number[]): Spread {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
  return { median, min: sorted[0]!, max: sorted.at(-1)! };
}

/** One figure of one contender across rounds. */
export function figure(samples: Map<string, Figures[]>, name: string, key: string): Spread {
  return spread(samples.get(name)!.map((f) => f[key]!));
}

/**
 * The ratio of two contenders' figure, taken round by round (each pair ran back to back),
 * then summarised: what a target on a ratio is judged on.
 */
export function ratioSpread(
  samples: Map<string, Figures[]>,
  name: string,
  anchor: string,
  key: string,
): Spread {
  const a = samples.get(name)!;
  const b = samples.get(anchor)!;
  return spread(a.map((f, i) => f[key]! / b[i]![key]!));
}

export function formatSpread(s: Spread, format: (value: number) => string): string {
  return `${format(s.median)} (${format(s.min)}–${format(s.max)})`;
}

export const times = (value: number): string => `${value.toFixed(2)}x`;
