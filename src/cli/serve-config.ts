import { parseArgs } from 'node:util';
import { ConfigError } from '../iface/errors.js';

/** The gateway's settings: each flag has an environment variable, the flag wins. */
export interface ServeConfig {
  readonly port: number;
  readonly host: string;
  readonly maxSessions: number;
  readonly tenantMax: number | undefined;
  readonly queueSize: number;
  readonly queueTimeoutMs: number;
  readonly setupConcurrency: number | undefined;
  readonly setupPerSecond: number | undefined;
  readonly drainTimeoutMs: number;
  readonly redisUrl: string | undefined;
  readonly redisName: string;
  readonly livekit:
    | {
        readonly url: string;
        readonly apiKey: string;
        readonly apiSecret: string;
        readonly agentName: string | undefined;
      }
    | undefined;
  /** Simulated backend: sessions end by themselves after this long (0: only on DELETE). */
  readonly simSessionMs: number;
}

const FLAGS = {
  port: ['PORT', '8080'],
  host: ['HOST', '0.0.0.0'],
  'max-sessions': ['MAX_CONCURRENT_SESSIONS', '100'],
  'tenant-max': ['TENANT_DEFAULT_MAX', undefined],
  'queue-size': ['QUEUE_MAX_SIZE', '500'],
  'queue-timeout-ms': ['QUEUE_TIMEOUT_MS', '10000'],
  'setup-concurrency': ['SETUP_CONCURRENCY', undefined],
  'setup-per-second': ['SETUP_PER_SECOND', undefined],
  'drain-timeout-ms': ['DRAIN_TIMEOUT_MS', '30000'],
  'redis-url': ['REDIS_URL', undefined],
  'redis-name': ['REDIS_NAME', 'voice-admission'],
  'sim-session-ms': ['SIM_SESSION_MS', '0'],
} as const satisfies Record<string, readonly [string, string | undefined]>;

export const SERVE_USAGE = `voice-admission serve [options]

Admission as an HTTP service. LiveKit when LIVEKIT_URL, LIVEKIT_API_KEY and LIVEKIT_API_SECRET
are set (LIVEKIT_AGENT_NAME optional), the simulated backend otherwise.

${Object.entries(FLAGS)
  .map(
    ([flag, [env, fallback]]) =>
      `  --${flag.padEnd(20)} ${env}${fallback === undefined ? '' : ` (default ${fallback})`}`,
  )
  .join('\n')}
`;

export function parseServeConfig(argv: readonly string[], env: NodeJS.ProcessEnv): ServeConfig {
  const { values } = parseArgs({
    args: [...argv],
    options: Object.fromEntries(
      Object.keys(FLAGS).map((flag) => [flag, { type: 'string' as const }]),
    ),
    strict: true,
  });
  const raw = (flag: keyof typeof FLAGS): string | undefined => {
    const [name, fallback] = FLAGS[flag];
    return (values[flag] as string | undefined) ?? env[name] ?? fallback;
  };
  const int = (flag: keyof typeof FLAGS, min: number): number | undefined => {
    const text = raw(flag);
    if (text === undefined) return undefined;
    const value = Number(text);
    if (!Number.isInteger(value) || value < min) {
      throw new ConfigError(
        `--${flag}`,
        `must be an integer >= ${min}, got ${JSON.stringify(text)}`,
      );
    }
    return value;
  };
  const livekitUrl = env.LIVEKIT_URL;
  const apiKey = env.LIVEKIT_API_KEY;
  const apiSecret = env.LIVEKIT_API_SECRET;
  return {
    port: int('port', 0)!,
    host: raw('host')!,
    maxSessions: int('max-sessions', 1)!,
    tenantMax: int('tenant-max', 1),
    queueSize: int('queue-size', 0)!,
    queueTimeoutMs: int('queue-timeout-ms', 1)!,
    setupConcurrency: int('setup-concurrency', 1),
    setupPerSecond: int('setup-per-second', 1),
    drainTimeoutMs: int('drain-timeout-ms', 0)!,
    redisUrl: raw('redis-url'),
    redisName: raw('redis-name')!,
    livekit:
      livekitUrl && apiKey && apiSecret
        ? { url: livekitUrl, apiKey, apiSecret, agentName: env.LIVEKIT_AGENT_NAME }
        : undefined,
    simSessionMs: int('sim-session-ms', 0)!,
  };
}
