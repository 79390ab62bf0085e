import { expect, it } from 'vitest';
import { repeatsAName } from '../../src/cli/gateway/json-text.js';

it('finds a name given twice in one object, at any depth, escaped or not', () => {
  expect(repeatsAName('{"a":1,"a":2}')).toBe(true);
  expect(repeatsAName('{"a":1,"\\u0061":2}')).toBe(true);
  expect(repeatsAName('{"x":[{"b":{"c":1,"c":2}}]}')).toBe(true);
  expect(repeatsAName('[{"x":1,"x":2}]')).toBe(true);
});

it('does not take one name in different objects, or text inside strings, for a repeat', () => {
  expect(repeatsAName('{"a":{"a":1},"b":[{"a":1},{"a":2}]}')).toBe(false);
  expect(repeatsAName('{"a":"{\\"a\\":1,\\"a\\":2}","b":"\\\\"}')).toBe(false);
  expect(repeatsAName('{"a\\\\":1,"a":2}')).toBe(false);
});

it('reads strings of any length: a 10 MB value does not overflow the stack', () => {
  const text = JSON.stringify({ big: 'x'.repeat(10_000_000), quoted: '\\"'.repeat(1_000_000) });
  expect(repeatsAName(text)).toBe(false);
  expect(repeatsAName(`${text.slice(0, -1)},"big":1}`)).toBe(true);
});
