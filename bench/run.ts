import { writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { table } from '../src/cli/stats.js';
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
const names = selected.length > 0 ? selected : Object.keys(CASES);
const loadBefore = loadavg()[0]!;
const rows: Row[] = [];
for (const name of names) {
  const bench = CASES[name]!;
  process.stderr.write(`running ${name}: ${bench.name}...\n`);
  rows.push(...(await bench.run()));
}

const verdict = (row: Row): string => (row.met === undefined ? '' : row.met ? 'met' : 'MISSED');
const groups = [...new Set(rows.map((row) => row.group))];
const sections = groups.map((group) => {
  const command = Object.values(CASES).find((bench) => bench.name === group)?.command ?? '';
  const body = table(
    ['', 'measured', 'ratio', 'target', ''],
    rows
      .filter((row) => row.group === group)
      .map((row) => [row.name, row.value, row.ratio, row.target ?? '', verdict(row)]),
  );
  return { group, command, body };
});
const printed = sections.map((s) => `${s.group}  (${s.command})\n${s.body}`).join('\n\n');
process.stdout.write(`${printed}\n`);

if (selected.length === 0) {
  const machine = `${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, Node ${process.version}`;
  const markdown = [
    '# Benchmark results',
    '',
    `Made by \`npm run bench\` on ${new Date().toISOString().slice(0, 10)} (${machine}). Each group is measured`,
    'side by side in one run; read the ratios, not the absolute figures: the machine is shared and',
    `noisy (load average ${loadBefore.toFixed(1)} when the run started, ${loadavg()[0]!.toFixed(1)} when it ended,`,
    'on a machine other work was running on). Each group names the command that reruns it alone.',
    '',
    'Cases marked "own process" run each contender in a fresh `node --expose-gc` process, five',
    'rounds interleaved (A B C, A B C...): figures are medians with the range across rounds in',
    'brackets, ratios are taken round by round (each pair ran back to back), heap is read after a',
    "forced GC, and throughput is per CPU-second of the contender's process, so other load on the",
    'machine does not count against it. Every target row says met or MISSED from this run.',
    '',
    ...sections.flatMap((s) => [
      `## ${s.group}`,
      '',
      `\`${s.command}\``,
      '',
      '```',
      s.body,
      '```',
      '',
    ]),
  ].join('\n');
  writeFileSync(new URL('./RESULTS.md', import.meta.url), markdown);
  process.stderr.write('written to bench/RESULTS.md\n');
}
