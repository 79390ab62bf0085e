import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { REDACTED, redact } from '../../src/backend/redact.js';

/**
 * What redaction promises, written as the regular expressions that state it most plainly.
 * They take time quadratic in the length of some texts, which is why the library scans instead.
 */
const JWT_SHAPE = /\beyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+/g;
const URL_CREDENTIALS = /\b([a-z][a-z0-9+.-]*:\/\/)\S*@/gi;
function expected(text: string): string {
  return text.replace(JWT_SHAPE, REDACTED).replace(URL_CREDENTIALS, `$1${REDACTED}@`);
}

/** Texts made of the characters these patterns turn on, so matches and near misses abound. */
const tricky = fc
  .array(
    fc.constantFrom(
      'eyJ',
      'e',
      'y',
      'J',
      'a',
      'Z',
      '0',
      '_',
      '-',
      '.',
      '+',
      ':',
      '/',
      '://',
      '@',
      ' ',
      '\n',
      '\u00a0',
      '\u2028',
      'é',
      'http',
      'x=',
    ),
    { maxLength: 60 },
  )
  .map((parts) => parts.join(''));

describe('redact', () => {
  it('removes JWTs and URL credentials', () => {
    const jwt = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhIn0.c2lnbmF0dXJl';
    expect(redact(`token ${jwt} and https://user:pass@host/x?y=1 done`)).toBe(
      `token ${REDACTED} and https://${REDACTED}@host/x?y=1 done`,
    );
    expect(redact(`a-${jwt}`)).toBe(`a-${REDACTED}`);
    expect(redact(`redis://:p@ss@localhost:6379`)).toBe(`redis://${REDACTED}@localhost:6379`);
  });

  it('finds exactly what the patterns describe', () => {
    fc.assert(
      fc.property(tricky, (text) => {
        expect(redact(text)).toBe(expected(text));
      }),
      { numRuns: 5_000 },
    );
  });

  it('takes time linear in the text, whatever the text', () => {
    // Each took minutes through the regular expressions: every start re-read the rest.
    const size = 1_000_000;
    const texts = [
      '-eyJ'.repeat(size / 4),
      `eyJ.${'-eyJ'.repeat(size / 4)}`,
      'a://'.repeat(size / 4),
      'a.'.repeat(size / 2),
      `${'a.'.repeat(size / 2)}:x://u@h`,
      `${'a://'.repeat(size / 4)}@`,
    ];
    for (const text of texts) expect(redact(text)).toBe(redactedOnce(text));
  });

  it('still removes the secrets it is given', () => {
    expect(redact('key sk-12345678 used', ['sk-12345678', undefined, 'short'])).toBe(
      `key ${REDACTED} used`,
    );
  });
});

/** `expected`, for the long texts above, where the patterns would take minutes. */
function redactedOnce(text: string): string {
  if (text.endsWith(':x://u@h')) return `${text.slice(0, -'u@h'.length)}${REDACTED}@h`;
  if (text.startsWith('a://') && text.endsWith('@')) return `a://${REDACTED}@`;
  return text;
}
