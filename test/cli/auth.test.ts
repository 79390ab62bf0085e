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

describe('a token listed twice', () => {
  const token = 'k7Gm-acme-worker-token-0123';
  const other = 'Qp2x-globex-token-456789ab';

  it.each([
    ['for the same tenant', `{"${token}": "acme", "${other}": "globex", "${token}": "acme"}`],
    ['for another tenant', `{"${token}": "acme", "${other}": "globex", "${token}": "*"}`],
    [
      'spelled with an escape',
      `{"${token}": "acme", "${other}": "globex", "${token.replace('k', '\\u006b')}": "acme"}`,
    ],
  ])('%s is refused, naming both entries and never the token', (_what, json) => {
    expect(() => TokenTable.parse(json, 'AUTH_TOKENS_FILE')).toThrow(
      'AUTH_TOKENS_FILE entry 3: token repeats entry 1 (each token may be listed once)',
    );
    try {
      TokenTable.parse(json, 'AUTH_TOKENS_FILE');
    } catch (error) {
      expect(String(error)).not.toContain(token);
    }
  });

  it('is told apart from tokens that differ, whatever the values and spacing', () => {
    const json = `\n { "${token}" : "acme" ,\t"${other}":"acme", "a\\"b,c}d{e[f]g:hij": "x,}y" }\n`;
    const table = TokenTable.parse(json, 'AUTH_TOKENS');
    expect(table.authenticate(`Bearer ${token}`)).toEqual({ scope: 'acme' });
    expect(table.authenticate(`Bearer ${other}`)).toEqual({ scope: 'acme' });
    expect(table.authenticate('Bearer a"b,c}d{e[f]g:hij')).toEqual({ scope: 'x,}y' });
    expect(table.tenants).toEqual(['acme', 'x,}y']);
  });

  it('entries are numbered in the order written, past values of any kind', () => {
    const json = `{"${token}": {"nested": ["}", {"a": 1}]}, "${other}": "acme"}`;
    expect(() => TokenTable.parse(json, 'AUTH_TOKENS')).toThrow(
      'AUTH_TOKENS entry 1: tenant must be',
    );
    expect(() =>
      TokenTable.parse(`{"${token}": "acme", "${other}": [1, "]"]}`, 'AUTH_TOKENS'),
    ).toThrow('AUTH_TOKENS entry 2: tenant must be');
  });
});
