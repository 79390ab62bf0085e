import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { examplesOf, typeCheckExamples } from '../support/doc-examples.js';

const docs = [
  'README.md',
  ...readdirSync(new URL('../../docs/', import.meta.url))
    .filter((name) => name.endsWith('.md'))
    .map((name) => `docs/${name}`),
];

describe.each(docs)('%s', (markdown) => {
  it('has TypeScript examples, and every one type-checks against the package', () => {
    expect(examplesOf(markdown).length).toBeGreaterThan(0);
    expect(typeCheckExamples(markdown)).toEqual([]);
  }, 120_000);
});
