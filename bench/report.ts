/**
 * A bench run as text: the tables printed to the terminal, and bench/RESULTS.md (the method,
 * then each case's tables followed by the notes that explain them).
 */
import { table } from '../src/cli/stats.js';
import type { BenchCase, Row } from './measure.js';

/** What one case gave in this run. */
export interface CaseResult {
  /** The name that selects the case (`npm run bench -- <key>`), also its section's anchor. */
  readonly key: string;
  readonly bench: BenchCase;
  readonly rows: readonly Row[];
  /** The case's notes on these rows. */
  readonly notes: readonly string[];
  /** One-minute load average when the case started and when it ended. */
  readonly load: readonly [start: number, end: number];
  /** Why the case stopped before returning its rows, when it did. */
  readonly failure?: string;
}

/** What the header of RESULTS.md says about the run as a whole. */
export interface RunFacts {
  /** YYYY-MM-DD. */
  readonly date: string;
  readonly machine: string;
  readonly load: readonly [start: number, end: number];
}

/** Markdown source lines are wrapped here, as the rest of the repository's prose is. */
const WIDTH = 100;

export function wrap(paragraph: string, width = WIDTH): string {
  const lines: string[] = [];
  let line = '';
  for (const word of paragraph.split(/\s+/).filter((w) => w !== '')) {
    if (line !== '' && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line === '' ? word : `${line} ${word}`;
    }
  }
  if (line !== '') lines.push(line);
  return lines.join('\n');
}

const verdict = (row: Row): string => (row.met === undefined ? '' : row.met ? 'met' : 'MISSED');

/** One table per group of the case's rows, in the order the groups first appear. */
function tables(rows: readonly Row[]): { group: string; body: string }[] {
  const groups = [...new Set(rows.map((row) => row.group))];
  return groups.map((group) => ({
    group,
    body: table(
      ['', 'measured', 'ratio', 'target', ''],
      rows
        .filter((row) => row.group === group)
        .map((row) => [row.name, row.value, row.ratio, row.target ?? '', verdict(row)]),
    ),
  }));
}

const failed = (result: CaseResult): string => `FAILED: ${result.failure}`;

/** For the terminal: each table under its title and command, then the case's notes. */
export function printed(results: readonly CaseResult[]): string {
  return results
    .flatMap((result) => [
      ...tables(result.rows).map(
        ({ group, body }) => `${group}  (${result.bench.command})\n${body}`,
      ),
      ...(result.failure === undefined
        ? []
        : [`${result.bench.name}  (${result.bench.command})\n${failed(result)}`]),
      ...result.notes.map((note) => wrap(note)),
    ])
    .join('\n\n');
}

function section(result: CaseResult): string[] {
  const [start, end] = result.load;
  const command = `\`${result.bench.command}\` (load average ${start.toFixed(1)} when it started, ${end.toFixed(1)} when it ended)`;
  const heading = (title: string): string[] => [`## ${title}`, '', command, ''];
  return [
    `<a id="${result.key}"></a>`,
    '',
    ...tables(result.rows).flatMap(({ group, body }) => [
      ...heading(group),
      '```',
      body,
      '```',
      '',
    ]),
    ...(result.failure === undefined ? [] : [...heading(result.bench.name), failed(result), '']),
    ...result.notes.flatMap((note) => [wrap(note), '']),
  ];
}

/** bench/RESULTS.md: how the figures were made, then every case in the order it ran. */
export function resultsMarkdown(results: readonly CaseResult[], run: RunFacts): string {
  const [start, end] = run.load;
  return [
    '# Benchmark results',
    '',
    wrap(
      `Made by \`npm run bench\` on ${run.date} (${run.machine}). Each group is measured side by side in one run; read the ratios, not the absolute figures: the machine is shared and noisy (load average ${start.toFixed(1)} when the run started, ${end.toFixed(1)} when it ended; beside each command, while that case ran). Each group names the command that reruns it alone.`,
    ),
    '',
    wrap(
      `Cases marked "own process" run each contender in a fresh \`node --expose-gc\` process, five rounds interleaved (A B C, A B C...): figures are medians with the range across rounds in brackets, ratios are taken round by round (each pair ran back to back), heap is read after a forced GC, and throughput is per CPU-second of the contender's process, so other load on the machine does not count against it. Every target row says met or MISSED from this run. Under each case's tables, its notes (bench/cases/) say how it is set up, what its rows count and why a target is missed.`,
    ),
    '',
    ...results.flatMap(section),
  ].join('\n');
}
