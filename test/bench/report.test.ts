import { describe, expect, it } from 'vitest';
import type { BenchCase, Row } from '../../bench/measure.js';
import { type CaseResult, printed, resultsMarkdown, wrap } from '../../bench/report.js';

const bench = (name: string, key: string): BenchCase => ({
  name,
  command: `npm run bench -- ${key}`,
  run: () => Promise.resolve([]),
});

const row = (group: string, name: string, met?: boolean): Row => ({
  group,
  name,
  value: '1 ms',
  ratio: '1.00x',
  ...(met === undefined ? {} : { target: '< 2 ms', met }),
});

/** A case measuring two groups, then one that failed. */
const results: CaseResult[] = [
  {
    key: 'two',
    bench: bench('first group', 'two'),
    rows: [row('first group', 'a', true), row('second group', 'b', false)],
    notes: ['Why b is missed.', 'What a counts.'],
    load: [1.25, 3],
  },
  {
    key: 'broken',
    bench: bench('broken case', 'broken'),
    rows: [],
    notes: [],
    load: [2, 2],
    failure: 'Error: no server',
  },
];

const markdown = resultsMarkdown(results, {
  date: '2026-11-30',
  machine: '2 × cpu, Node v20',
  load: [1, 2],
});

describe('bench results', () => {
  it("writes a case's notes under its last table, after its anchor and every group's table", () => {
    const order = [
      '<a id="two"></a>',
      '## first group',
      '`npm run bench -- two` (load average 1.3 when it started, 3.0 when it ended)',
      'a  ',
      '## second group',
      'b  ',
      'Why b is missed.',
      'What a counts.',
      '<a id="broken"></a>',
    ].map((text) => markdown.indexOf(text));
    expect(order.every((at) => at >= 0)).toBe(true);
    expect(order).toEqual([...order].sort((x, y) => x - y));
    expect(markdown).toMatch(/^a +1 ms +1.00x +< 2 ms +met$/m);
    expect(markdown).toMatch(/^b +1 ms +1.00x +< 2 ms +MISSED$/m);
  });

  it('names a failed case and why it failed', () => {
    expect(markdown).toContain(
      '## broken case\n\n`npm run bench -- broken` (load average 2.0 when it started, 2.0 when it ended)\n\nFAILED: Error: no server',
    );
    expect(printed(results)).toContain(
      'broken case  (npm run bench -- broken)\nFAILED: Error: no server',
    );
  });

  it('prints the notes after the tables on the terminal too', () => {
    const text = printed(results);
    expect(text.indexOf('Why b is missed.')).toBeGreaterThan(text.indexOf('second group'));
  });

  it('wraps a paragraph at the width without splitting or losing a word', () => {
    const paragraph = Array.from({ length: 60 }, (_, i) => `word${i}`).join(' ');
    const lines = wrap(paragraph, 30).split('\n');
    expect(lines.length).toBeGreaterThan(1);
    expect(lines.every((line) => line.length <= 30)).toBe(true);
    expect(lines.join(' ')).toBe(paragraph);
  });
});
