import { describe, expect, it } from 'vitest';
import { TokenTable } from '../../src/cli/gateway/auth.js';

describe('the token table', () => {
  it.each([
    ['a space', 'abcdefgh ijklmnop'],
    ['a tab', 'abcdefgh\tijklmnop'],
    ['a non-ASCII letter', 'abcdefghijklmnopé'],
    ['a control character', 'abcdefghijklmnop\u0000'],
  ])('refuses a token with %s, which no Authorization header could carry', (_what, token) => {
    const parse = () => TokenTable.parse(JSON.stringify({ [token]: 'acme' }), 'AUTH_TOKENS');
    expect(parse).toThrow('AUTH_TOKENS entry 1: token must be visible ASCII characters only');
    try {
      parse();
    } catch (error) {
      expect(String(error)).not.toContain(token); // the message names the entry, not the token
    }
  });

  it('authenticates each token it accepts', () => {
    const token = 'Zt9c-._~+/=!#$%&*ABCxyz0189';
    const table = TokenTable.parse(JSON.stringify({ [token]: 'acme' }), 'AUTH_TOKENS');
    expect(table.authenticate(`Bearer ${token}`)).toEqual({ scope: 'acme' });
  });
});
