import { ProxyTracerProvider, type TracerProvider, trace } from '@opentelemetry/api';
import type { SpanExporter } from '@opentelemetry/sdk-trace-node';
import { ConfigError } from '../iface/errors.js';
import { missingPeer } from '../internal/peers.js';
import { booleanField, describeValue, knownKeys, objectOrUndefined } from '../internal/validate.js';
import { serviceNameOf, serviceResource } from './service-resource.js';

/** What `setupTracing` loads when called; docs/autoscaling.md names the same packages. */
const PEERS = ['@opentelemetry/sdk-trace-node', '@opentelemetry/resources'] as const;

/**
 * A span exporter: any `SpanExporter` of the OpenTelemetry SDK (OTLP, Zipkin, the console's,
 * an in-memory one). Spelled out here so these declarations need no SDK package.
 */
export interface SpanExporterLike {
  export(spans: never[], resultCallback: (result: { code: number; error?: Error }) => void): void;
  shutdown(): Promise<void>;
  forceFlush?(): Promise<void>;
}

export interface TracingOptions {
  /** Where spans go, e.g. an OTLP exporter. Required: nothing is printed unless you ask. */
  readonly exporter: SpanExporterLike;
  /**
   * `service.name` of the Resource on every span. Default: the `OTEL_SERVICE_NAME`
   * environment variable, else `voice-admission`.
   */
  readonly serviceName?: string | undefined;
  /** Export each span as it ends instead of in batches (tests, debugging). Default false. */
  readonly immediate?: boolean | undefined;
  /**
   * Register globally (context manager and propagators included). Default true. Refused (a
   * `ConfigError`) when another tracer provider is registered globally already.
   */
  readonly global?: boolean | undefined;
}

export interface Tracing {
  /** The SDK tracer provider: pass it as `telemetry.tracerProvider` when not global. */
  readonly tracerProvider: TracerProvider;
  /** Exports the spans still buffered. */
  forceFlush(): Promise<void>;
  /** Flushes the spans still buffered and stops (and unregisters it if it was global). */
  shutdown(): Promise<void>;
}

/**
 * A Node tracer provider in one call, for services with no tracing set up yet. Its SDK
 * packages load on this call; without them it rejects with a `MissingPeerError` naming them.
 */
export async function setupTracing(options: TracingOptions): Promise<Tracing> {
  const value = objectOrUndefined('options', options) ?? {};
  knownKeys('options', value, ['exporter', 'serviceName', 'immediate', 'global']);
  const exporter = value.exporter as SpanExporter | undefined;
  if (
    exporter === null ||
    typeof exporter !== 'object' ||
    typeof exporter.export !== 'function' ||
    typeof exporter.shutdown !== 'function'
  ) {
    throw new ConfigError(
      'options.exporter',
      `must be a SpanExporter (export and shutdown), got ${describeValue(exporter)}`,
    );
  }
  const serviceName = serviceNameOf('options.serviceName', value.serviceName);
  const immediate = booleanField('options.immediate', value.immediate, false);
  const global = booleanField('options.global', value.global, true);

  const missing = missingPeer('setupTracing', PEERS);
  const [sdk, resources] = await Promise.all([
    import('@opentelemetry/sdk-trace-node').catch(missing),
    import('@opentelemetry/resources').catch(missing),
  ]);
  const tracerProvider = new sdk.NodeTracerProvider({
    resource: serviceResource(resources, serviceName),
    spanProcessors: [
      immediate ? new sdk.SimpleSpanProcessor(exporter) : new sdk.BatchSpanProcessor(exporter),
    ],
  });
  if (global) {
    // The API keeps the provider registered first: ours would trace nothing, and unregistering
    // it at shutdown() would take the other one down.
    if (registeredTracerProvider() !== NO_TRACER_PROVIDER) {
      await tracerProvider.shutdown();
      throw new ConfigError(
        'options.global',
        'another tracer provider is registered globally: pass global: false and hand ' +
          'admissions this tracerProvider',
      );
    }
    tracerProvider.register();
  }
  return {
    tracerProvider,
    forceFlush: () => tracerProvider.forceFlush(),
    shutdown: async () => {
      await tracerProvider.shutdown();
      if (global) trace.disable();
    },
  };
}

/** What the global tracer provider delegates to while none is registered. */
const NO_TRACER_PROVIDER = new ProxyTracerProvider().getDelegate();

/** The tracer provider registered globally, or NO_TRACER_PROVIDER. */
function registeredTracerProvider(): TracerProvider {
  const global = trace.getTracerProvider();
  return global instanceof ProxyTracerProvider ? global.getDelegate() : global;
}
