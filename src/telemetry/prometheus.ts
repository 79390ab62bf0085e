import type { IncomingMessage, ServerResponse } from 'node:http';
import { type MeterProvider, metrics } from '@opentelemetry/api';
import { ConfigError } from '../iface/errors.js';
import { listenHttp } from '../internal/http-listener.js';
import { missingPeer } from '../internal/peers.js';
import {
  booleanField,
  knownKeys,
  numberField,
  objectOrUndefined,
  stringField,
} from '../internal/validate.js';
import { serviceNameOf, serviceResource } from './service-resource.js';

/** What `startPrometheus` loads when called; docs/autoscaling.md names the same packages. */
const PEERS = [
  '@opentelemetry/sdk-metrics',
  '@opentelemetry/exporter-prometheus',
  '@opentelemetry/resources',
] as const;

export interface PrometheusOptions {
  /** Serve `/metrics` on this port; `0` picks a free one. Default 9464. */
  readonly port?: number | undefined;
  /** Interface to listen on. Default `0.0.0.0` (a scrape target must be reachable). */
  readonly host?: string | undefined;
  /** Default `/metrics`. */
  readonly endpoint?: string | undefined;
  /** Start no server: mount `handler` on your own (e.g. the gateway's `/metrics`). */
  readonly serve?: boolean | undefined;
  /**
   * Register the meter provider globally, so admissions pick it up. Default true. Refused (a
   * `ConfigError`) when another meter provider is registered globally already.
   */
  readonly global?: boolean | undefined;
  /**
   * `service.name` of the Resource, reported in the `target_info` series. Default: the
   * `OTEL_SERVICE_NAME` environment variable, else `voice-admission`.
   */
  readonly serviceName?: string | undefined;
}

export interface PrometheusEndpoint {
  /** The SDK meter provider: pass it as `telemetry.meterProvider` when not global. */
  readonly meterProvider: MeterProvider;
  /** Where Prometheus scrapes, when a server was started. */
  readonly url: string | undefined;
  /** A `node:http` handler answering with the metrics in Prometheus text format. */
  readonly handler: (request: IncomingMessage, response: ServerResponse) => void;
  /** Stops the server and the meter provider (and unregisters it if it was global). */
  stop(): Promise<void>;
}

/**
 * A Prometheus endpoint in one call, for services with no OpenTelemetry set up: an SDK meter
 * provider whose reader is the Prometheus exporter. Call it before creating admissions (they
 * read the global provider when created), or pass `meterProvider` in their telemetry options.
 * Its SDK packages load on this call; without them it rejects with a `MissingPeerError`
 * naming them.
 */
export async function startPrometheus(
  options: PrometheusOptions = {},
): Promise<PrometheusEndpoint> {
  const value = objectOrUndefined('options', options) ?? {};
  knownKeys('options', value, ['port', 'host', 'endpoint', 'serve', 'global', 'serviceName']);
  const port = numberField(
    'options.port',
    value.port,
    { min: 0, max: 65_535, integer: true },
    9_464,
  );
  const host = stringField('options.host', value.host) ?? '0.0.0.0';
  const endpoint = stringField('options.endpoint', value.endpoint) ?? '/metrics';
  const serve = booleanField('options.serve', value.serve, true);
  const global = booleanField('options.global', value.global, true);
  const serviceName = serviceNameOf('options.serviceName', value.serviceName);

  const missing = missingPeer('startPrometheus', PEERS);
  const [{ PrometheusExporter }, { MeterProvider: SdkMeterProvider }, resources] =
    await Promise.all([
      import('@opentelemetry/exporter-prometheus').catch(missing),
      import('@opentelemetry/sdk-metrics').catch(missing),
      import('@opentelemetry/resources').catch(missing),
    ]);
  const exporter = new PrometheusExporter({ endpoint, preventServerStart: true });
  const meterProvider = new SdkMeterProvider({
    readers: [exporter],
    resource: serviceResource(resources, serviceName),
  });
  // The API keeps the provider registered first: ours would not be the one admissions read,
  // and unregistering it at stop() would take the other one down.
  if (global && !metrics.setGlobalMeterProvider(meterProvider)) {
    await meterProvider.shutdown();
    throw new ConfigError(
      'options.global',
      'another meter provider is registered globally: pass global: false and hand admissions ' +
        'this meterProvider',
    );
  }
  const handler = (request: IncomingMessage, response: ServerResponse): void =>
    exporter.getMetricsRequestHandler(request, response);
  // Our own server rather than the exporter's: it tells us the port when asked for port 0.
  const listener = serve
    ? await listenHttp(
        (request, response) => {
          if (request.method === 'GET' && request.url?.split('?')[0] === endpoint)
            handler(request, response);
          else response.writeHead(404).end();
        },
        host,
        port,
      ).catch(async (error: unknown) => {
        // Nothing is left behind by a port that could not be had.
        if (global) metrics.disable();
        await meterProvider.shutdown();
        throw error;
      })
    : undefined;
  return {
    meterProvider,
    url: listener === undefined ? undefined : `${listener.origin}${endpoint}`,
    handler,
    stop: async () => {
      if (global) metrics.disable();
      await meterProvider.shutdown();
      await listener?.close();
    },
  };
}
