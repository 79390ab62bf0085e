import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { isLimiterName, LIMITER_NAME_RULE } from '../admission/store/redis/keys.js';
import { isRedisAddress } from '../admission/store/redis/redis-client.js';
import { withoutCredentials } from '../backend/redact.js';
import { ConfigError } from '../iface/errors.js';
import { MAX_TIMER_MS } from '../internal/validate.js';
import { parseLiveKitConfig } from '../providers/livekit/config.js';
import {
  checkTenantId,
  decimalFlag,
  integerFlag,
  listFlag,
  parseFlags,
  tenantsFlag,
} from './args.js';
import { TokenTable } from './gateway/auth.js';

/** The gateway's settings: each flag has an environment variable, the flag wins. */
export interface ServeConfig {
  readonly port: number;
  readonly host: string;
  readonly maxSessions: number;
  readonly tenantMax: number | undefined;
  /** Caps of named tenants (`--tenant-caps acme=50,globex=20`), 0 for a tenant that may hold none. */
  readonly tenantCaps: ReadonlyMap<string, number>;
  readonly queueSize: number;
  /** Most waiters one tenant may have in the queue; undefined for the whole queue. */
  readonly queuePerTenant: number | undefined;
  readonly queueTimeoutMs: number;
  readonly setupConcurrency: number | undefined;
  readonly setupPerSecond: number | undefined;
  readonly drainTimeoutMs: number;
  /** Most connections open at once; more are closed as soon as they are accepted. */
  readonly maxConnections: number;
  /** How long an idle keep-alive connection stays open after its last answer. */
  readonly keepAliveTimeoutMs: number;
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
  /** A latency objective steering the session limit, fed by `POST /v1/latency`. */
  readonly slo:
    | {
        readonly quantile: number;
        readonly targetMs: number;
        readonly windowMs: number;
        readonly initial: number;
      }
    | undefined;
  /** Simulated backend: sessions end by themselves after this long (0: only on DELETE). */
  readonly simSessionMs: number;
  readonly logLevel: string;
  /** Prometheus metrics: off (undefined), on the gateway's port (`port` undefined), or their own. */
  readonly metrics: { readonly port: number | undefined } | undefined;
  /** Tenants with their own metric label, besides those with a cap or a token. */
  readonly metricsTenants: readonly string[];
  /** Bearer tokens; undefined runs open (only allowed on a loopback address). */
  readonly tokens: TokenTable | undefined;
}

const FLAGS = {
  port: ['PORT', '8080'],
  host: ['HOST', '127.0.0.1'],
  'max-sessions': ['MAX_CONCURRENT_SESSIONS', '100'],
  'tenant-max': ['TENANT_DEFAULT_MAX', undefined],
  'tenant-caps': ['TENANT_CAPS', undefined],
  'queue-size': ['QUEUE_MAX_SIZE', '500'],
  'queue-per-tenant': ['QUEUE_MAX_PER_TENANT', undefined],
  'queue-timeout-ms': ['QUEUE_TIMEOUT_MS', '10000'],
  'setup-concurrency': ['SETUP_CONCURRENCY', undefined],
  'setup-per-second': ['SETUP_PER_SECOND', undefined],
  'drain-timeout-ms': ['DRAIN_TIMEOUT_MS', '30000'],
  'max-connections': ['MAX_CONNECTIONS', '4096'],
  'keep-alive-timeout-ms': ['KEEP_ALIVE_TIMEOUT_MS', '72000'],
  'slo-target-ms': ['SLO_TARGET_MS', undefined],
  'slo-percentile': ['SLO_PERCENTILE', '95'],
  'slo-window-ms': ['SLO_WINDOW_MS', '30000'],
  'slo-initial': ['SLO_INITIAL_LIMIT', undefined],
  'redis-url': ['REDIS_URL', undefined],
  'redis-name': ['REDIS_NAME', 'voice-admission'],
  'sim-session-ms': ['SIM_SESSION_MS', '0'],
  'log-level': ['LOG_LEVEL', 'info'],
  'metrics-port': ['METRICS_PORT', undefined],
  'metrics-tenants': ['METRICS_TENANTS', undefined],
  'auth-tokens-file': ['AUTH_TOKENS_FILE', undefined],
} as const satisfies Record<string, readonly [string, string | undefined]>;

/** What a flag's value looks like, where the name does not say it. */
const HINTS: Partial<Record<keyof typeof FLAGS, string>> = {
  'tenant-caps': '(acme=50,globex=20; each tenant once, 0 for none)',
  'queue-per-tenant': '(default the queue size: one tenant may fill it)',
  'setup-per-second': '(a rate: 0.5 is one setup every 2 s; >= 0.001)',
  'keep-alive-timeout-ms': "(above a load balancer's idle timeout)",
  'redis-url': '(needs ioredis installed)',
  'slo-percentile': '(with --slo-target-ms)',
  'slo-window-ms': '(with --slo-target-ms)',
  'slo-initial': '(with --slo-target-ms; default 20, at most --max-sessions)',
  'redis-name': '(with --redis-url)',
  'sim-session-ms': '(the simulated backend only; 0: sessions end on DELETE)',
  'metrics-tenants': '(with --metrics or --metrics-port)',
};

const SWITCHES = { metrics: 'METRICS' } as const;

/** The slowest setup rate `setup.perSecond` accepts: one every 1 000 s. */
const MIN_SETUP_RATE = 0.001;

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
const LIVEKIT_ENV = ['LIVEKIT_URL', 'LIVEKIT_API_KEY', 'LIVEKIT_API_SECRET'] as const;

export const SERVE_USAGE = `voice-admission serve [options]

Admission as an HTTP service (API: GET /openapi.json, docs/gateway.md). LiveKit when
LIVEKIT_URL, LIVEKIT_API_KEY and LIVEKIT_API_SECRET are set (LIVEKIT_AGENT_NAME optional),
the simulated backend when none is. Bearer tokens from AUTH_TOKENS ({"<token>": "<tenant>"},
"*" for an operator, each token once) or the file AUTH_TOKENS_FILE; required unless --host is a
loopback address.

${Object.entries(FLAGS)
  .map(
    ([flag, [env, fallback]]) =>
      `  --${flag.padEnd(20)} ${env}${fallback === undefined ? '' : ` (default ${fallback})`}` +
      (HINTS[flag as keyof typeof FLAGS] === undefined
        ? ''
        : ` ${HINTS[flag as keyof typeof FLAGS]}`),
  )
  .join('\n')}
  --${'metrics'.padEnd(20)} METRICS=1: serve /metrics (needs @opentelemetry/sdk-metrics,
  ${''.padEnd(22)} @opentelemetry/exporter-prometheus and @opentelemetry/resources installed)
`;

export function parseServeConfig(argv: readonly string[], env: NodeJS.ProcessEnv): ServeConfig {
  const values = parseFlags(argv, Object.keys(FLAGS), Object.keys(SWITCHES));
  /** What the operator set, by flag or else by variable; undefined for the default. */
  const given = (flag: keyof typeof FLAGS): string | undefined => {
    // An empty variable is unset (a template that had no value): an empty REDIS_URL must not
    // mean "connect somewhere", nor an empty PORT "refuse to start".
    const fromEnv = env[FLAGS[flag][0]] === '' ? undefined : env[FLAGS[flag][0]];
    return (values[flag] as string | undefined) ?? fromEnv;
  };
  const raw = (flag: keyof typeof FLAGS): string | undefined => given(flag) ?? FLAGS[flag][1];
  // Errors name what the operator set: MAX_CONCURRENT_SESSIONS in a deployment's environment
  // is not found by searching it for --max-sessions.
  const setting = (flag: keyof typeof FLAGS): string =>
    values[flag] === undefined && given(flag) !== undefined ? FLAGS[flag][0] : `--${flag}`;
  const int = (flag: keyof typeof FLAGS, min: number, max?: number): number | undefined =>
    integerFlag(setting(flag), raw(flag), min, max);

  const metricsPort = int('metrics-port', 0, 65_535);
  // The flag wins over METRICS; an operator who switched metrics off by name did not mean a
  // port set elsewhere (a template's METRICS_PORT) to switch them back on.
  const metricsSwitch = values.metrics === true || switchValue('METRICS', env.METRICS);
  if (metricsSwitch === false && metricsPort !== undefined) {
    throw new ConfigError(
      'METRICS',
      `is ${JSON.stringify(env.METRICS)} (metrics off) but --metrics-port / METRICS_PORT is set: unset one of them`,
    );
  }
  const metricsOn = metricsSwitch === true || metricsPort !== undefined;
  // In any case, as METRICS: LOG_LEVEL=INFO is how many deployments spell it.
  const level = raw('log-level')!.toLowerCase();
  if (!LOG_LEVELS.includes(level)) {
    throw new ConfigError(
      setting('log-level'),
      `must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(raw('log-level'))}`,
    );
  }
  const queueSize = int('queue-size', 0)!;
  const config: Omit<ServeConfig, 'tokens'> = {
    port: int('port', 0, 65_535)!,
    host: hostFlag(setting('host'), raw('host')!),
    maxSessions: int('max-sessions', 1)!,
    tenantMax: int('tenant-max', 1),
    tenantCaps: parseTenantCaps(setting('tenant-caps'), raw('tenant-caps')),
    queueSize,
    queuePerTenant: int('queue-per-tenant', 0, queueSize),
    queueTimeoutMs: int('queue-timeout-ms', 1, MAX_TIMER_MS)!,
    setupConcurrency: int('setup-concurrency', 1),
    // A rate, not a count: 0.5 is one setup every 2 s. Down to the library's 0.001.
    setupPerSecond: decimalFlag(
      setting('setup-per-second'),
      raw('setup-per-second'),
      MIN_SETUP_RATE,
    ),
    // Durations arm timers: checked here, by flag, up to the longest a timer can wait (the
    // drain would refuse a longer one only once the gateway runs).
    drainTimeoutMs: int('drain-timeout-ms', 0, MAX_TIMER_MS)!,
    maxConnections: int('max-connections', 1)!,
    keepAliveTimeoutMs: int('keep-alive-timeout-ms', 1, MAX_TIMER_MS)!,
    redisUrl: redisUrlFlag(setting('redis-url'), raw('redis-url')),
    redisName: redisNameFlag(setting('redis-name'), raw('redis-name')!),
    livekit: readLiveKit(env),
    slo: readSlo(int),
    simSessionMs: int('sim-session-ms', 0, MAX_TIMER_MS)!,
    logLevel: level,
    metrics: metricsOn ? { port: metricsPort } : undefined,
    metricsTenants: tenantsFlag(setting('metrics-tenants'), raw('metrics-tenants')),
  };
  // A setting given but left unused is refused: the operator meant it to do something.
  const unused = (flags: readonly (keyof typeof FLAGS)[], applies: boolean, why: string): void => {
    const flag = applies ? undefined : flags.find((f) => given(f) !== undefined);
    if (flag !== undefined) throw new ConfigError(setting(flag), `has no effect ${why}`);
  };
  unused(
    ['slo-percentile', 'slo-window-ms', 'slo-initial'],
    config.slo !== undefined,
    'without --slo-target-ms (SLO_TARGET_MS)',
  );
  unused(['redis-name'], config.redisUrl !== undefined, 'without --redis-url (REDIS_URL)');
  unused(
    ['metrics-tenants'],
    config.metrics !== undefined,
    'without --metrics or --metrics-port (METRICS, METRICS_PORT)',
  );
  unused(
    ['sim-session-ms'],
    config.livekit === undefined,
    'with LiveKit (LIVEKIT_URL set): it ends sessions of the simulated backend',
  );
  // Port 0 is a free port each time; any other shared by both could only fail to listen.
  if (metricsPort === config.port && metricsPort !== 0) {
    throw new ConfigError(
      setting('metrics-port'),
      `is the gateway's port (${setting('port')} ${config.port}): leave it unset to serve /metrics there`,
    );
  }
  const tokens = readTokens(setting('auth-tokens-file'), raw('auth-tokens-file'), env);
  if (tokens === undefined && !isLoopback(config.host)) {
    throw new ConfigError(
      'AUTH_TOKENS',
      `is required to listen on ${config.host}, which is not a loopback address: set ` +
        'AUTH_TOKENS or AUTH_TOKENS_FILE, or listen on --host 127.0.0.1',
    );
  }
  return { ...config, tokens };
}

/** The objective when `--slo-target-ms` is set; the limit starts at (and falls back to) `--slo-initial`. */
function readSlo(
  int: (flag: keyof typeof FLAGS, min: number, max?: number) => number | undefined,
): ServeConfig['slo'] {
  const targetMs = int('slo-target-ms', 1);
  if (targetMs === undefined) return undefined;
  const maxSessions = int('max-sessions', 1)!;
  return {
    quantile: int('slo-percentile', 1, 99)! / 100,
    targetMs,
    windowMs: int('slo-window-ms', 1, MAX_TIMER_MS)!,
    initial: int('slo-initial', 1, maxSessions) ?? Math.min(20, maxSessions),
  };
}

/** Where to listen: Node reads a blank host as every address, so one is refused by name. */
function hostFlag(name: string, host: string): string {
  if (host.trim() !== '') return host;
  throw new ConfigError(name, `must be an IP address or a host name, got ${JSON.stringify(host)}`);
}

/** The store's address, checked now: the store would refuse it only once the gateway starts. */
function redisUrlFlag(name: string, url: string | undefined): string | undefined {
  if (url === undefined || isRedisAddress(url)) return url;
  throw new ConfigError(
    name,
    `must be a redis:// or rediss:// URL, got ${JSON.stringify(withoutCredentials(url))}`,
  );
}

/** The limiter's name, checked now: the store would refuse it only once the backend has started. */
function redisNameFlag(name: string, limiter: string): string {
  if (isLimiterName(limiter)) return limiter;
  throw new ConfigError(name, `must be ${LIMITER_NAME_RULE}, got ${JSON.stringify(limiter)}`);
}

/** Loopback addresses, where running without tokens only exposes the gateway to this machine. */
export function isLoopback(host: string): boolean {
  if (host === 'localhost' || host === '::1') return true;
  return isIP(host) === 4 && host.startsWith('127.');
}

/** Tokens from AUTH_TOKENS or the file that `fileSetting` (flag or variable) names. */
function readTokens(
  fileSetting: string,
  file: string | undefined,
  env: NodeJS.ProcessEnv,
): TokenTable | undefined {
  const inline = env.AUTH_TOKENS;
  if (inline !== undefined && inline !== '' && file !== undefined) {
    throw new ConfigError('AUTH_TOKENS', `and ${fileSetting} cannot both be set`);
  }
  if (file !== undefined) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? 'unreadable';
      throw new ConfigError(fileSetting, `cannot read ${JSON.stringify(file)} (${code})`);
    }
    // A byte order mark (Windows editors write one) is no part of the JSON.
    return TokenTable.parse(text.replace(/^\uFEFF/, ''), fileSetting);
  }
  return inline === undefined || inline === ''
    ? undefined
    : TokenTable.parse(inline, 'AUTH_TOKENS');
}

/** LiveKit when all three variables are set, simulated when none is; anything between refuses. */
function readLiveKit(env: NodeJS.ProcessEnv): ServeConfig['livekit'] {
  const missing = LIVEKIT_ENV.filter((name) => (env[name] ?? '') === '');
  if (missing.length === LIVEKIT_ENV.length) {
    if ((env.LIVEKIT_AGENT_NAME ?? '') === '') return undefined;
    throw new ConfigError(
      'LIVEKIT_AGENT_NAME',
      `has no effect without ${LIVEKIT_ENV.join(', ')} (the simulated backend has no agents)`,
    );
  }
  if (missing.length > 0) {
    throw new ConfigError(
      missing.join(', '),
      `must be set as well to use LiveKit (or unset ${LIVEKIT_ENV.filter((n) => !missing.includes(n)).join(', ')} for the simulated backend)`,
    );
  }
  const livekit = {
    url: env.LIVEKIT_URL!,
    apiKey: env.LIVEKIT_API_KEY!,
    apiSecret: env.LIVEKIT_API_SECRET!,
    agentName: env.LIVEKIT_AGENT_NAME === '' ? undefined : env.LIVEKIT_AGENT_NAME,
  };
  checkLiveKit(livekit);
  return livekit;
}

/** The variable each LiveKit setting comes from. */
const LIVEKIT_VARIABLES: Record<string, string> = {
  'providerConfig.url': 'LIVEKIT_URL',
  'providerConfig.apiKey': 'LIVEKIT_API_KEY',
  'providerConfig.apiSecret': 'LIVEKIT_API_SECRET',
  'providerConfig.agentName': 'LIVEKIT_AGENT_NAME',
};

/**
 * The LiveKit provider's own checks, run now and told by variable: the operator set
 * LIVEKIT_URL, not `providerConfig.url`.
 */
function checkLiveKit(livekit: NonNullable<ServeConfig['livekit']>): void {
  try {
    parseLiveKitConfig(livekit, {});
  } catch (error) {
    if (!(error instanceof ConfigError) || !Object.hasOwn(LIVEKIT_VARIABLES, error.field)) {
      throw error;
    }
    const detail = error.message.slice(`${error.field}: `.length);
    throw new ConfigError(LIVEKIT_VARIABLES[error.field]!, detail);
  }
}

/**
 * `tenant=cap,...`: a Map, so any tenant id the library accepts is a tenant (`__proto__`,
 * `constructor`); exactly one `=` per entry, each tenant once, and 0 allowed as in
 * `tenants.max` (a tenant that may hold nothing).
 */
function parseTenantCaps(name: string, text: string | undefined): Map<string, number> {
  const caps = new Map<string, number>();
  for (const entry of listFlag(name, text)) {
    const parts = entry.split('=').map((part) => part.trim());
    const tenant = parts[0]!;
    if (parts.length !== 2 || tenant === '') {
      throw new ConfigError(
        name,
        `expects tenant=cap (one "=" per entry), got ${JSON.stringify(entry)}`,
      );
    }
    checkTenantId(name, tenant);
    if (caps.has(tenant)) {
      throw new ConfigError(name, `names tenant ${JSON.stringify(tenant)} twice`);
    }
    caps.set(tenant, integerFlag(`${name} ${tenant}`, parts[1], 0)!);
  }
  return caps;
}

/**
 * A switch's environment variable: on, off, or undefined when unset or empty; anything
 * unrecognised is refused.
 */
function switchValue(name: string, value: string | undefined): boolean | undefined {
  const text = (value ?? '').trim().toLowerCase();
  if (text === '') return undefined;
  if (['1', 'true', 'on', 'yes'].includes(text)) return true;
  if (['0', 'false', 'off', 'no'].includes(text)) return false;
  throw new ConfigError(
    name,
    `must be 1, true, on or yes (or 0, false, off, no), got ${JSON.stringify(value)}`,
  );
}
