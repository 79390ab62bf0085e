import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import type { Cluster, Redis } from 'ioredis';

const script = new URL('./children/redis-instance.ts', import.meta.url).pathname;

export interface Instance {
  readonly child: ChildProcess;
  /** Resolves once the instance is connected and about to start. */
  readonly ready: Promise<void>;
  /** The instance's report (outcomes of a burst, or slots held). */
  readonly report: Promise<Record<string, unknown>>;
  readonly exited: Promise<number | null>;
  /** Every line printed so far, in order. */
  readonly lines: readonly Record<string, unknown>[];
  /** Resolves with the first line (printed so far or later) that passes `test`. */
  waitFor(test: (line: Record<string, unknown>) => boolean): Promise<Record<string, unknown>>;
  /** Writes a line to the instance's stdin (a load instance stops on "stop"). */
  send(line: string): void;
}

/** Starts one service instance (test/support/children/redis-instance.ts) with `plan`. */
export function startInstance(plan: Record<string, unknown>): Instance {
  const child = spawn(process.execPath, ['--import', 'tsx', script, JSON.stringify(plan)], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines: Record<string, unknown>[] = [];
  const waitFor = (
    test: (line: Record<string, unknown>) => boolean,
  ): Promise<Record<string, unknown>> =>
    new Promise((resolve, reject) => {
      const check = (): boolean => {
        const found = lines.find(test);
        if (found !== undefined) resolve(found);
        return found !== undefined;
      };
      if (check()) return;
      child.stdout!.on('data', check);
      child.once('exit', (code) => {
        if (!check()) reject(new Error(`instance exited with ${code} before reporting`));
      });
    });
  let buffered = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    const complete = buffered.split('\n');
    buffered = complete.pop() ?? '';
    for (const line of complete)
      if (line.trim() !== '') lines.push(JSON.parse(line) as Record<string, unknown>);
  });
  const ready = waitFor((line) => line.ready === true).then(() => undefined);
  const report = waitFor((line) => 'admitted' in line || 'held' in line);
  ready.catch(() => undefined);
  report.catch(() => undefined);
  const exited = once(child, 'exit').then(([code]) => code as number | null);
  return {
    child,
    ready,
    report,
    exited,
    lines,
    waitFor,
    send: (line) => child.stdin!.write(`${line}\n`),
  };
}

export interface Peaks {
  global: number;
  tenants: Record<string, number>;
  samples: number;
}

/**
 * Reads the limiter's lease set and tenant counts as fast as Redis answers, recording the
 * highest values ever seen, until `stop()` is called.
 */
export function monitorLeases(
  client: Redis | Cluster,
  name: string,
): { peaks: Peaks; stop: () => Promise<void> } {
  const base = `voice-admission:{${name}}`;
  const peaks: Peaks = { global: 0, tenants: {}, samples: 0 };
  let running = true;
  const loop = (async () => {
    while (running) {
      const [count, tenants] = await Promise.all([
        client.zcard(`${base}:leases`),
        client.hgetall(`${base}:tenants`),
      ]);
      peaks.samples++;
      peaks.global = Math.max(peaks.global, count);
      for (const [tenant, held] of Object.entries(tenants)) {
        peaks.tenants[tenant] = Math.max(peaks.tenants[tenant] ?? 0, Number(held));
      }
    }
  })();
  return {
    peaks,
    stop: async () => {
      running = false;
      await loop;
    },
  };
}
