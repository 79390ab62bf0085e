import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/iface/errors.js';
import { MAX_TIMER_MS } from '../../../src/internal/validate.js';
import { parseLiveKitConfig } from '../../../src/providers/livekit/config.js';

const base = { url: 'wss://voice.example.com', apiKey: 'key', apiSecret: 'a-secret-value' };

function configError(raw: unknown, env: Record<string, string> = {}): ConfigError {
  try {
    parseLiveKitConfig(raw, env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('LiveKit provider config', () => {
  it.each([
    ['wss://voice.example.com', 'https://voice.example.com', 'wss://voice.example.com'],
    ['https://voice.example.com', 'https://voice.example.com', 'wss://voice.example.com'],
    ['ws://127.0.0.1:7880', 'http://127.0.0.1:7880', 'ws://127.0.0.1:7880'],
    ['http://127.0.0.1:7880/', 'http://127.0.0.1:7880', 'ws://127.0.0.1:7880'],
  ])('accepts %s (API %s, participants %s)', (url, httpUrl, wsUrl) => {
    expect(parseLiveKitConfig({ ...base, url }, {})).toMatchObject({ httpUrl, wsUrl });
  });

  it('takes url, key and secret from LIVEKIT_URL, LIVEKIT_API_KEY, LIVEKIT_API_SECRET', () => {
    const settings = parseLiveKitConfig(undefined, {
      LIVEKIT_URL: 'wss://env.example.com',
      LIVEKIT_API_KEY: 'env-key',
      LIVEKIT_API_SECRET: 'env-secret',
    });
    expect(settings).toMatchObject({
      httpUrl: 'https://env.example.com',
      apiKey: 'env-key',
      apiSecret: 'env-secret',
    });
    // The config wins over the environment.
    expect(parseLiveKitConfig(base, { LIVEKIT_API_KEY: 'env-key' }).apiKey).toBe('key');
  });

  it('applies defaults', () => {
    expect(parseLiveKitConfig(base, {})).toMatchObject({
      mode: 'dispatch',
      agentName: undefined,
      roomPrefix: 'va-',
      emptyTimeout: undefined,
      tokenTtl: 600,
      requestTimeoutMs: 10_000,
      webhook: { endOnCallerLeft: false, clockToleranceSeconds: 10 },
      reconcile: { intervalMs: 30_000, deleteUntracked: false },
      health: { timeoutMs: 2_000, degradedLatencyMs: 1_000 },
      join: { identity: 'agent', connectTimeoutMs: 10_000, sampleRate: 48_000, channels: 1 },
    });
    expect(parseLiveKitConfig({ ...base, reconcile: false }, {}).reconcile).toBeUndefined();
    // The token lives no longer than a room nobody joined.
    expect(parseLiveKitConfig({ ...base, emptyTimeout: 120 }, {}).tokenTtl).toBe(120);
    expect(parseLiveKitConfig({ ...base, agentName: 'a', awaitAgent: {} }, {}).awaitAgent).toEqual({
      timeoutMs: 10_000,
      pollIntervalMs: 250,
    });
  });

  it.each([
    [{ ...base, url: undefined }, 'providerConfig.url', 'is required (or set LIVEKIT_URL)'],
    [{ ...base, url: 'ftp://x' }, 'providerConfig.url', 'must use ws, wss, http or https'],
    [{ ...base, url: 'wss://h/rtc' }, 'providerConfig.url', 'without a path'],
    [{ ...base, url: 'wss://u:p@h' }, 'providerConfig.url', 'must not carry credentials'],
    [{ ...base, apiKey: undefined }, 'providerConfig.apiKey', 'LIVEKIT_API_KEY'],
    [{ ...base, apiSecret: undefined }, 'providerConfig.apiSecret', 'LIVEKIT_API_SECRET'],
    [{ ...base, emptyTimeout: -1 }, 'providerConfig.emptyTimeout', 'must be >= 1, got -1'],
    [{ ...base, tokenTtl: 1.5 }, 'providerConfig.tokenTtl', 'must be an integer'],
    [{ ...base, roomPrefix: 'a b' }, 'providerConfig.roomPrefix', 'no whitespace'],
    // 110 characters, 220 bytes: with the session id, 256 bytes, the server's limit.
    [{ ...base, roomPrefix: 'é'.repeat(111) }, 'providerConfig.roomPrefix', 'at most 220 bytes'],
    [
      { ...base, join: { identity: 'é'.repeat(129) } },
      'providerConfig.join.identity',
      'must be at most 256 bytes in UTF-8, got 258',
    ],
    [
      { ...base, tokenTtl: 10 * 365 * 86_400 },
      'providerConfig.tokenTtl',
      'must be <= 3600, got 315360000',
    ],
    [{ ...base, mode: 'listen' }, 'providerConfig.mode', 'must be one of dispatch, join'],
    [{ ...base, agentNmae: 'x' }, 'providerConfig.agentNmae', 'unknown option'],
    [{ ...base, join: { channels: 3 } }, 'providerConfig.join.channels', 'must be <= 2'],
    [
      { ...base, emptyTimeout: 30, tokenTtl: 31 },
      'providerConfig.tokenTtl',
      'must be at most emptyTimeout (30), got 31: a caller joining after the room closed would re-create it',
    ],
    [{ ...base, awaitAgent: {} }, 'providerConfig.awaitAgent', 'needs agentName'],
    [
      { ...base, agentName: 'a', awaitAgent: { timeoutMs: 0 } },
      'providerConfig.awaitAgent.timeoutMs',
      'must be >= 1',
    ],
  ])('refuses %o naming %s', (raw, field, message) => {
    const error = configError(raw);
    expect(error.field).toBe(field);
    expect(error.message).toContain(message);
  });

  it.each([
    [{ requestTimeoutMs: 2 ** 31 }, 'requestTimeoutMs'],
    [{ health: { timeoutMs: 2 ** 31 } }, 'health.timeoutMs'],
    [{ join: { connectTimeoutMs: 2 ** 31 } }, 'join.connectTimeoutMs'],
    [{ reconcile: { intervalMs: 2 ** 31 } }, 'reconcile.intervalMs'],
    [{ agentName: 'a', awaitAgent: { timeoutMs: 2 ** 31 } }, 'awaitAgent.timeoutMs'],
    [{ agentName: 'a', awaitAgent: { pollIntervalMs: 2 ** 31 } }, 'awaitAgent.pollIntervalMs'],
  ])('refuses %o, a timer Node.js would fire after 1 ms', (options, field) => {
    const error = configError({ ...base, ...options });
    expect(error.field).toBe(`providerConfig.${field}`);
    expect(error.message).toContain(
      `must be <= ${MAX_TIMER_MS} ms (the longest timer Node.js supports), got 2147483648`,
    );
  });

  it.each([
    ['emptyTimeout', 0],
    ['departureTimeout', 0],
  ])('refuses %s: %d, which LiveKit would read as the server default', (field, value) => {
    const error = configError({ ...base, [field]: value });
    expect(error.field).toBe(`providerConfig.${field}`);
    expect(error.message).toContain("must be >= 1: LiveKit reads 0 as the server's default");
  });

  it.each([
    [{ apiKey: 'key\n' }, {}, 'providerConfig.apiKey'],
    [{ apiSecret: ' a-secret-value' }, {}, 'providerConfig.apiSecret'],
    [
      { apiSecret: undefined },
      { LIVEKIT_API_SECRET: 'a-secret-value\r\n' },
      'providerConfig.apiSecret',
    ],
  ])(
    'refuses %o (env %o) with whitespace around it, which no server key matches',
    (options, env, field) => {
      const error = configError({ ...base, ...options }, env);
      expect(error.field).toBe(field);
      expect(error.message).toContain('must not begin or end with whitespace');
      expect(error.message).not.toContain('a-secret-value');
    },
  );

  it('never echoes the secret in its errors', () => {
    const error = configError({ ...base, apiSecret: ['a-secret-value'] });
    expect(error.message).toBe(
      'providerConfig.apiSecret: must be a non-empty string, got an array',
    );
    expect(configError({ ...base, apiSecret: '' }).message).toBe(
      'providerConfig.apiSecret: must be a non-empty string, got an empty string',
    );
  });

  it.each([
    // Neither parses as a URL, so the credentials check cannot say what is wrong.
    ['wss//APIkey:pa55word-x@voice.example.com', '"[redacted]@voice.example.com"'],
    ['wss://APIkey:pa55word-x@voice example.com', '"wss://[redacted]@voice example.com"'],
  ])('never echoes credentials written into an unparsable url %s', (url, shown) => {
    const error = configError({ ...base, url });
    expect(error.field).toBe('providerConfig.url');
    expect(error.message).not.toContain('pa55');
    expect(error.message).toContain(shown);
  });

  it('never echoes the query of a url given with one, such as a connection url with its access token', () => {
    const token = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJjYWxsZXIifQ.c2lnbmF0dXJl';
    const error = configError({
      ...base,
      url: `wss://voice.example.com/rtc?access_token=${token}`,
    });
    expect(error.message).toBe(
      `providerConfig.url: must be the server's address without a path or query, got "wss://voice.example.com/rtc" with a query`,
    );
  });
});
