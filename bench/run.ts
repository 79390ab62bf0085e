import { writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { adaptiveLimits } from './cases/adaptive.js';
import { burst } from './cases/burst.js';
import { gateway } from './cases/gateway.js';
import { latency } from './cases/latency.js';
import { livekit } from './cases/livekit.js';
import { overhead } from './cases/overhead.js';
import { queuedCycles } from './cases/queued-cycles.js';
import { redis } from './cases/redis.js';
import { slo } from './cases/slo.js';
import { tenantsCase } from './cases/tenants.js';
import { waiters } from './cases/waiters.js';
import type { BenchCase, Row } from './measure.js';
import { type CaseResult, printed, resultsMarkdown } from './report.js';

/** Every case, by the name that selects it: `npm run bench -- <name>...` runs a subset. */
const CASES: Record<string, BenchCase> = {
  queued: queuedCycles,
  tenants: tenantsCase,
  latency,
  overhead,
  waiters,
  redis,
  burst,
  adaptive: adaptiveLimits,
  gateway,
  livekit,
  slo,
};

const selected = process.argv.slice(2);
const unknown = selected.filter((name) => !(name in CASES));
if (unknown.length > 0) {
  console.error(`unknown case(s): ${unknown.join(', ')}; known: ${Object.keys(CASES).join(', ')}`);
  process.exit(2);
}

const describe = (error: unknown): string =>
  error instanceof Error ? (error.stack ?? error.message) : String(error);
const firstLine = (text: string): string => text.split('\n')[0]!;

/**
 * Runs one case. A case that fails is reported as failed and the run goes on, so one broken
 * case does not throw away the others' figures; the run then exits with 1.
 */
async function runCase(key: string, bench: BenchCase): Promise<CaseResult> {
  process.stderr.write(`running ${key}: ${bench.name}...\n`);
  const loadAtStart = loadavg()[0]!;
  let rows: Row[] = [];
  let failure: string | undefined;
  try {
    rows = await bench.run();
  } catch (error) {
    process.stderr.write(`${key} failed: ${describe(error)}\n`);
    failure = firstLine(describe(error));
    process.exitCode = 1;
  }
  let notes: string[] = [];
  if (failure === undefined) {
    try {
      notes = bench.notes?.(rows) ?? [];
    } catch (error) {
      process.stderr.write(`${key}: notes failed: ${describe(error)}\n`);
      notes = [`The notes of this case could not be made: ${firstLine(describe(error))}`];
      process.exitCode = 1;
    }
  }
  const load = [loadAtStart, loadavg()[0]!] as const;
  return { key, bench, rows, notes, load, ...(failure === undefined ? {} : { failure }) };
}

const keys = selected.length > 0 ? selected : Object.keys(CASES);
const loadAtStart = loadavg()[0]!;
const results: CaseResult[] = [];
for (const key of keys) {
  const result = await runCase(key, CASES[key]!);
  results.push(result);
  // As each case ends: a run that dies later keeps what it measured in its log.
  process.stdout.write(`${printed([result])}\n\n`);
}

if (selected.length === 0) {
  const markdown = resultsMarkdown(results, {
    date: new Date().toISOString().slice(0, 10),
    machine: `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}`,
    load: [loadAtStart, loadavg()[0]!],
  });
  writeFileSync(new URL('./RESULTS.md', import.meta.url), markdown);
  process.stderr.write('written to bench/RESULTS.md\n');
}
