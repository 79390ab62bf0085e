import type { FastifyBaseLogger } from 'fastify';
import { loadIoredis } from '../admission/store/redis/redis-client.js';
import {
  Admission,
  adaptive,
  createBackend,
  drainOnSignals,
  type LiveKitBackend,
  type RedisCapacityStore,
  redisStore,
  type VoiceBackend,
  type WebhookOutcome,
  type WebhookRequest,
} from '../index.js';
import { type PrometheusEndpoint, startPrometheus } from '../telemetry/prometheus.js';
import { createGateway, type GatewayLogOptions } from './gateway/gateway.js';
import { startOpsServer } from './gateway/ops-server.js';
import type { ServeConfig } from './serve-config.js';

export interface RunningGateway {
  readonly url: string;
  /**
   * Where Prometheus scrapes, when metrics are on. With a metrics port, `/healthz` and
   * `/readyz` are served there too.
   */
  readonly metricsUrl: string | undefined;
  readonly admission: Admission;
  readonly log: FastifyBaseLogger;
  /** Stops listening (requests under way finish), then stops the backend, store and metrics. */
  close(): Promise<void>;
}

export interface ServeOptions {
  /** The version `/openapi.json` states. */
  readonly version: string;
  /** Log lines go here instead of stdout. */
  readonly logStream?: GatewayLogOptions['stream'];
}

/** Starts the gateway; resolves once it listens. If any step fails, what was opened is closed. */
export async function serve(config: ServeConfig, options: ServeOptions): Promise<RunningGateway> {
  const opened = new Resources();
  try {
    return await start(config, options, opened);
  } catch (error) {
    await opened.closeAfterFailure(error);
    throw error;
  }
}

async function start(
  config: ServeConfig,
  options: ServeOptions,
  opened: Resources,
): Promise<RunningGateway> {
  // Loaded first: a missing optional package stops the start before anything is opened.
  if (config.redisUrl !== undefined) await loadIoredis();
  const prometheus: PrometheusEndpoint | undefined =
    config.metrics === undefined
      ? undefined
      : // Served by the gateway, on its port or the metrics port's server with the probes.
        await startPrometheus({ global: false, serve: false });
  if (prometheus !== undefined) opened.add(() => prometheus.stop());
  const livekit: LiveKitBackend | undefined =
    config.livekit === undefined ? undefined : await createLiveKitBackend(config.livekit);
  const backend: VoiceBackend =
    livekit ??
    (await createBackend('simulated', {
      providerConfig: config.simSessionMs > 0 ? { sessionDurationMs: config.simSessionMs } : {},
    }));
  const webhook: ((request: WebhookRequest) => Promise<WebhookOutcome>) | undefined =
    livekit === undefined ? undefined : (request) => livekit.handleWebhook(request);
  opened.add(() => backend.stop());
  await backend.start();
  const store: RedisCapacityStore | undefined =
    config.redisUrl === undefined
      ? undefined
      : redisStore({ redis: config.redisUrl, name: config.redisName });
  if (store !== undefined) opened.add(() => store.close());
  const namedTenants = [...config.tenantCaps.keys()];
  // Every tenant the operator named gets a metric label of its own: naming them bounds them.
  const labelledTenants = [
    ...new Set([...namedTenants, ...(config.tokens?.tenants ?? []), ...config.metricsTenants]),
  ];
  const admission = new Admission(backend, {
    maxConcurrentSessions: config.maxSessions,
    ...(config.tenantMax === undefined && namedTenants.length === 0
      ? {}
      : {
          tenants: {
            ...(config.tenantMax === undefined ? {} : { defaultMax: config.tenantMax }),
            // Own data properties, whatever the tenant is called (`__proto__` included).
            max: Object.fromEntries(config.tenantCaps),
          },
        }),
    queue: {
      maxSize: config.queueSize,
      ...(config.queuePerTenant === undefined ? {} : { maxPerTenant: config.queuePerTenant }),
      timeoutMs: config.queueTimeoutMs,
    },
    ...(config.slo === undefined
      ? {}
      : {
          limit: adaptive({
            min: 1,
            max: config.maxSessions,
            initial: config.slo.initial,
            slo: {
              quantile: config.slo.quantile,
              targetMs: config.slo.targetMs,
              windowMs: config.slo.windowMs,
            },
          }),
        }),
    setup: {
      ...(config.setupConcurrency === undefined ? {} : { concurrency: config.setupConcurrency }),
      ...(config.setupPerSecond === undefined ? {} : { perSecond: config.setupPerSecond }),
    },
    ...(store === undefined ? {} : { store }),
    telemetry:
      prometheus === undefined
        ? false
        : {
            meterProvider: prometheus.meterProvider,
            tenants: labelledTenants,
            ...(labelledTenants.length === 0 ? {} : { maxTenants: labelledTenants.length }),
          },
  });
  // Opened before the gateway, so closed after it: probes answer while requests finish.
  const ops =
    prometheus === undefined || config.metrics?.port === undefined
      ? undefined
      : await startOpsServer({
          admission,
          metrics: prometheus.handler,
          host: config.host,
          port: config.metrics.port,
        });
  if (ops !== undefined) opened.add(() => ops.close());
  const app = createGateway({
    admission,
    tokens: config.tokens,
    log: {
      level: config.logLevel,
      ...(options.logStream === undefined ? {} : { stream: options.logStream }),
      secrets: config.livekit === undefined ? [] : [config.livekit.apiSecret],
    },
    metrics: ops === undefined ? prometheus?.handler : undefined,
    livekitWebhook: webhook,
    version: options.version,
    maxConnections: config.maxConnections,
    keepAliveTimeoutMs: config.keepAliveTimeoutMs,
    drainTimeoutMs: config.drainTimeoutMs,
  });
  opened.add(() => app.close());
  if (store !== undefined) logStoreEvents(store, admission, app.log);
  if (livekit !== undefined) logLiveKitEvents(livekit, app.log);
  const address = await app.listen({ port: config.port, host: config.host });
  const url = address.replace('0.0.0.0', '127.0.0.1').replace('[::]', '[::1]');
  const metricsUrl = prometheus === undefined ? undefined : `${ops?.url ?? url}/metrics`;
  if (config.tokens === undefined) {
    app.log.warn(
      { host: config.host },
      'no AUTH_TOKENS: every caller may act for every tenant (allowed on a loopback address only)',
    );
  }
  app.log.info(
    {
      url,
      backend: backend.provider,
      store: store?.kind ?? 'memory',
      auth: config.tokens === undefined ? 'open' : 'bearer tokens',
      metrics: metricsUrl ?? 'off',
      maxSessions: config.maxSessions,
    },
    'listening',
  );
  return { url, metricsUrl, admission, log: app.log, close: () => opened.close() };
}

/** The LiveKit backend the gateway runs on, from its LIVEKIT_* settings. */
function createLiveKitBackend(
  settings: NonNullable<ServeConfig['livekit']>,
): Promise<LiveKitBackend> {
  const { url, apiKey, apiSecret, agentName } = settings;
  return createBackend('livekit', {
    providerConfig: { url, apiKey, apiSecret, ...(agentName === undefined ? {} : { agentName }) },
  });
}

/**
 * What the Redis store reports besides its answers goes to the gateway's log: its own
 * background failures, and the requests admission could not serve through it (without a
 * listener, either would be a process warning on stderr).
 */
function logStoreEvents(
  store: RedisCapacityStore,
  admission: Admission,
  log: FastifyBaseLogger,
): void {
  const logError = ({ operation, error }: { operation: string; error: unknown }) =>
    log.error({ operation, err: error }, 'redis store error');
  store.on('error', logError);
  admission.on('store_error', logError);
  store.on('lease_overdue', (lease) => log.warn(lease, 'session running without a lease'));
  store.on('lease_lost', (lease) => log.warn(lease, 'lease lost: its session is ended'));
  store.on('lease_restored', (lease) => log.info(lease, 'lease restored'));
}

/**
 * What the LiveKit backend reports besides its answers goes to the gateway's log: without a
 * listener its events are dropped, and a room it could not delete (still running, still
 * billed) or a forged webhook would go unseen. Not `untracked_rooms`: replicas share the room
 * prefix, so each would list the others' rooms at every reconciliation.
 */
function logLiveKitEvents(livekit: LiveKitBackend, log: FastifyBaseLogger): void {
  livekit.on('cleanup_failed', ({ roomName, error }) =>
    log.warn({ roomName, err: error }, 'livekit room not deleted'),
  );
  livekit.on('reconcile_failed', ({ error }) =>
    log.warn({ err: error }, 'livekit reconciliation failed'),
  );
  livekit.on('webhook_refused', ({ error }) => log.warn({ err: error }, 'livekit webhook refused'));
  livekit.on('late_room_deleted', ({ roomName }) =>
    log.info({ roomName }, 'livekit room deleted: re-created after its session ended'),
  );
  livekit.on('room_ended', ({ sessionId, roomName, via }) =>
    log.info({ session: sessionId, roomName, via }, 'session ended: its room finished'),
  );
}

/**
 * What the gateway opened, closed once in reverse order: the server (requests under way
 * finish), then the backend, the store and the metrics.
 */
class Resources {
  readonly #closers: (() => Promise<unknown>)[] = [];
  #closing: Promise<void> | undefined;

  add(close: () => Promise<unknown>): void {
    this.#closers.push(close);
  }

  close(): Promise<void> {
    this.#closing ??= (async () => {
      for (const close of this.#closers.reverse()) await close();
    })();
    return this.#closing;
  }

  /** Closes after a failed start; a failure to close is reported with the start's error. */
  async closeAfterFailure(error: unknown): Promise<void> {
    try {
      await this.close();
    } catch (closeError) {
      throw new AggregateError([error, closeError], 'the gateway failed to start and to close');
    }
  }
}

/**
 * Drains on SIGTERM / SIGINT / SIGHUP (not ready, refusing new sessions, open ones running
 * until the drain deadline), then closes and exits 0. A second signal exits at once (130),
 * saying so in the log. SIGHUP too: its default would end the process at once, open sessions
 * and all, when the terminal it was started from goes away.
 */
export function closeOnSignals(gateway: RunningGateway, drainTimeoutMs: number): void {
  const signals: NodeJS.Signals[] = ['SIGTERM', 'SIGINT', 'SIGHUP'];
  // Said when the drain starts: it can take up to the deadline, and the operator waits on it.
  gateway.admission.on('draining', ({ active, queued }) => {
    gateway.log.info({ active, queued, timeoutMs: drainTimeoutMs }, 'draining');
  });
  // Added before drainOnSignals' own listener, which exits at once on the second signal: the
  // log says the drain (or the close after it) did not finish, and what it left open.
  const abandoned = (signal: NodeJS.Signals): void => {
    if (gateway.admission.state === 'open') return;
    const { active, queued } = gateway.admission;
    gateway.log.warn({ signal, active, queued }, 'drain abandoned: exiting at once');
  };
  for (const signal of signals) process.on(signal, abandoned);
  drainOnSignals(gateway.admission, {
    signals,
    timeoutMs: drainTimeoutMs,
    onDrained: async (result) => {
      gateway.log.info(result, 'drained');
      await gateway.close();
    },
  });
}
