import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** Named figures one contender measured in one round (ops/s, bytes, ns...). */
export type Figures = Record<string, number>;
/** What a case module exports for its isolated contenders: name -> measure once. */
export type Contenders = Record<string, () => Promise<Figures>>;

const CHILD = fileURLToPath(new URL('./child.ts', import.meta.url));

/** Runs `name` from `moduleUrl` in its own process and returns what it measured. */
function runChild(moduleUrl: string, name: string): Promise<Figures> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--expose-gc', '--import', 'tsx', CHILD, moduleUrl, name],
      { maxBuffer: 1 << 20, timeout: 300_000 },
      (error, stdout, stderr) => {
        if (error) {
          reject(new Error(`contender ${name} failed: ${error.message}\n${stderr}`));
          return;
        }
        const line = stdout.trim().split('\n').at(-1) ?? '';
        resolve(JSON.parse(line) as Figures);
      },
    );
  });
}

/**
 * Every contender in its own process, rounds interleaved (A B C, A B C...) so drift on a
 * shared machine hits them all alike. Returns each contender's figures per round.
 */
export async function interleaved(
  moduleUrl: string,
  names: readonly string[],
  rounds: number,
): Promise<Map<string, Figures[]>> {
  const samples = new Map<string, Figures[]>(names.map((name) => [name, []]));
  for (let round = 0; round < rounds; round++) {
    for (const name of names) samples.get(name)!.push(await runChild(moduleUrl, name));
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
