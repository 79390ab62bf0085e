/** One row of the results table. */
export interface Row {
  readonly group: string;
  readonly name: string;
  /** The measured figure, formatted. */
  readonly value: string;
  /** Relative to the group's anchor, formatted ("1.00x" for the anchor itself). */
  readonly ratio: string;
  /** The target from the specification, when there is one. */
  readonly target?: string;
  /** Whether the target is met (undefined when there is none). */
  readonly met?: boolean;
}

/** A benchmark case: runs and returns its rows. */
export interface BenchCase {
  readonly name: string;
  /** The command that runs only this case. */
  readonly command: string;
  run(): Promise<Row[]>;
  /**
   * What a reader needs to read this case's table that holds from run to run (how it is set up,
   * what a row counts, why a target is missed), one paragraph per string, written under the
   * table. Made from this run's rows, so a figure a note quotes is this run's.
   */
  notes?(rows: readonly Row[]): string[];
}

/** The row named `name`; throws when there is none, so a note never quotes a vanished row. */
export function rowNamed(rows: readonly Row[], name: string): Row {
  const row = rows.find((candidate) => candidate.name === name);
  if (row === undefined) throw new Error(`no row named "${name}"`);
  return row;
}

export function collectGarbage(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc === undefined) throw new Error('run with --expose-gc (npm run bench does)');
  gc();
  gc();
}

export function heapUsed(): number {
  return process.memoryUsage().heapUsed;
}

/** CPU seconds (user + system, every thread of this process) since `start`. */
export function cpuSecondsSince(start: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1e6;
}

export interface QueuedFigures extends Record<string, number> {
  /** Tasks completed per CPU-second of this process (robust to other load on the machine). */
  readonly opsPerCpuSecond: number;
  /** Heap per queued task after a forced GC, every task submitted and none finished. */
  readonly bytesPerTask: number;
}

/**
 * Submits `count` tasks at once and waits for them: a warm-up pass, a timed pass, then a pass
 * that reads the heap after a forced GC with every task queued (outside the timed pass).
 */
export async function measureQueued(
  count: number,
  makeSubmit: () => (i: number) => Promise<unknown>,
): Promise<QueuedFigures> {
  const pass = async (onQueued: () => void): Promise<void> => {
    const submit = makeSubmit();
    const tasks = new Array<Promise<unknown>>(count);
    for (let i = 0; i < count; i++) tasks[i] = submit(i);
    onQueued();
    await Promise.all(tasks);
  };
  await pass(() => undefined);
  collectGarbage();
  const cpu = process.cpuUsage();
  await pass(() => undefined);
  const opsPerCpuSecond = count / cpuSecondsSince(cpu);
  collectGarbage();
  const before = heapUsed();
  let bytesPerTask = 0;
  await pass(() => {
    collectGarbage();
    bytesPerTask = (heapUsed() - before) / count;
  });
  return { opsPerCpuSecond, bytesPerTask };
}

export function ratio(value: number, anchor: number): string {
  return `${(value / anchor).toFixed(2)}x`;
}

export function formatRate(opsPerSecond: number): string {
  return `${Math.round(opsPerSecond).toLocaleString('en-US')} /s`;
}

export function formatBytes(bytes: number): string {
  return `${Math.round(bytes)} B`;
}

export function formatNs(ns: number): string {
  return `${Math.round(ns)} ns`;
}
