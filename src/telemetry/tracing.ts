import { trace } from '@opentelemetry/api';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  BatchSpanProcessor,
  ConsoleSpanExporter,
  SimpleSpanProcessor,
  type SpanExporter,
} from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';

export interface TracingOptions {
  /** Where spans go. Default: the console. */
  readonly exporter?: SpanExporter;
  /** `service.name` on every span. Default `voice-admission`. */
  readonly serviceName?: string;
  /** Export each span as it ends instead of in batches (tests, debugging). Default false. */
  readonly immediate?: boolean;
  /** Register globally (context manager and propagators included). Default true. */
  readonly global?: boolean;
}

export interface Tracing {
  readonly tracerProvider: NodeTracerProvider;
  /** Flushes the spans still buffered and stops. */
  shutdown(): Promise<void>;
}

/** A Node tracer provider in one call, for services with no tracing set up yet. */
export function setupTracing(options: TracingOptions = {}): Tracing {
  const exporter = options.exporter ?? new ConsoleSpanExporter();
  const tracerProvider = new NodeTracerProvider({
    resource: resourceFromAttributes({ 'service.name': options.serviceName ?? 'voice-admission' }),
    spanProcessors: [
      options.immediate ? new SimpleSpanProcessor(exporter) : new BatchSpanProcessor(exporter),
    ],
  });
  if (options.global !== false) tracerProvider.register();
  return {
    tracerProvider,
    shutdown: async () => {
      await tracerProvider.shutdown();
      if (options.global !== false) trace.disable();
    },
  };
}
