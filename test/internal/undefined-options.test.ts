import { describe, expect, it } from 'vitest';
import { AdaptiveLimit } from '../../src/admission/adaptive/adaptive-limit.js';
import { SloController } from '../../src/admission/adaptive/slo-limit.js';
import { REDIS_OPTION_KEYS, resolveRedisOptions } from '../../src/admission/store/redis/options.js';
import { LIVEKIT_CONFIG_KEYS, parseLiveKitConfig } from '../../src/providers/livekit/config.js';
import {
  parseSimulatedConfig,
  SIMULATED_CONFIG_KEYS,
} from '../../src/providers/simulated/config.js';
import { resolveTelemetryOptions } from '../../src/telemetry/options.js';

/** `base` with each of `keys` present and set to undefined. */
function undefinedKeys(base: object, keys: readonly string[]): object {
  return { ...base, ...Object.fromEntries(keys.map((key) => [key, undefined])) };
}

const livekit = { url: 'wss://voice.example.com', apiKey: 'key', apiSecret: 'a-secret-value' };
const redis = { redis: 'redis://127.0.0.1:6379', name: 'voice' };
const bounds = { min: 1, max: 10, initial: 4 };

/*
 * Under exactOptionalPropertyTypes the option types say an optional field may be undefined,
 * so `{ timeoutMs: fromEnv }` compiles: each parser must then read it as it reads a missing key.
 */
describe('an option set to undefined is read as absent', () => {
  it.each([
    [
      'LiveKit providerConfig',
      (raw: object) => parseLiveKitConfig(raw, {}),
      livekit,
      // The credentials are read from the environment when absent: the next case.
      LIVEKIT_CONFIG_KEYS.filter((key) => !(key in livekit)),
    ],
    [
      'LiveKit credentials from the environment',
      (raw: object) =>
        parseLiveKitConfig(raw, {
          LIVEKIT_URL: livekit.url,
          LIVEKIT_API_KEY: livekit.apiKey,
          LIVEKIT_API_SECRET: livekit.apiSecret,
        }),
      {},
      ['url', 'apiKey', 'apiSecret'],
    ],
    ...(
      [
        ['webhook', ['endOnCallerLeft', 'clockToleranceSeconds', 'maxBodyBytes']],
        ['reconcile', ['intervalMs', 'deleteUntracked']],
        ['health', ['timeoutMs', 'degradedLatencyMs']],
        [
          'join',
          [
            'identity',
            'name',
            'connectTimeoutMs',
            'sampleRate',
            'channels',
            'textTopic',
            'disposeRtcOnStop',
          ],
        ],
      ] as const
    ).map(
      ([nested, keys]) =>
        [
          `LiveKit providerConfig.${nested}`,
          (raw: object) => parseLiveKitConfig({ ...livekit, [nested]: raw }, {}),
          {},
          keys,
        ] as const,
    ),
    [
      'LiveKit providerConfig.awaitAgent',
      (raw: object) => parseLiveKitConfig({ ...livekit, agentName: 'agent', awaitAgent: raw }, {}),
      {},
      ['timeoutMs', 'pollIntervalMs'],
    ],
    ['simulated providerConfig', parseSimulatedConfig, {}, SIMULATED_CONFIG_KEYS],
    [
      'simulated providerConfig.turns',
      (raw: object) => parseSimulatedConfig({ turns: raw }),
      {},
      ['intervalMs', 'latencyMs', 'capacity', 'exponent', 'jitter', 'capacityChanges'],
    ],
    [
      'redisStore options',
      resolveRedisOptions,
      redis,
      REDIS_OPTION_KEYS.filter((key) => !(key in redis)),
    ],
    [
      'telemetry options',
      resolveTelemetryOptions,
      {},
      ['meterProvider', 'tracerProvider', 'maxTenants', 'tenants', 'recordUserId'],
    ],
    [
      'adaptive() options',
      (raw: object) => {
        const limit = new AdaptiveLimit(raw as never);
        return { current: limit.current, algorithm: limit.algorithm.name, slo: limit.slo };
      },
      { min: 2, max: 10 },
      ['initial', 'algorithm', 'slo'],
    ],
    [
      'adaptive({ slo })',
      (raw: object) => ({ ...new SloController(raw, bounds) }),
      { targetMs: 800 },
      ['quantile', 'windowMs', 'intervalMs', 'minSamples', 'staleMs', 'fallback', 'headroom'],
    ],
  ] as const)('%s', (_, parse, base, keys) => {
    expect(parse(undefinedKeys(base, keys))).toStrictEqual(parse(base));
  });
});
