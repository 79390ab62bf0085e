import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { examplesOf, typeCheckExamples } from '../support/doc-examples.js';

/** The HTTP API's page shows curl and Python, run by test/cli/python-worker.test.ts. */
const withoutTypeScript = new Set(['docs/gateway.md']);

const docs = [
  'README.md',
  ...readdirSync(new URL('../../docs/', import.meta.url))
    .filter((name) => name.endsWith('.md'))
    .map((name) => `docs/${name}`)
    .filter((doc) => !withoutTypeScript.has(doc)),
];

describe.each(docs)('%s', (markdown) => {
  it('has TypeScript examples, and every one type-checks against the package', () => {
    expect(examplesOf(markdown).length).toBeGreaterThan(0);
    expect(typeCheckExamples(markdown)).toEqual([]);
  }, 120_000);
});
