import { once } from 'node:events';
import { drainOnSignals } from '../admission/drain-on-signals.js';
import { redisStore } from '../admission/store/redis/redis-store.js';
import type { VoiceBackend } from '../iface/backend.js';
import { Admission, createBackend } from '../index.js';
import type { LiveKitBackend } from '../providers/livekit/index.js';
import { startPrometheus } from '../telemetry/prometheus.js';
import { createGateway } from './gateway/gateway.js';
import type { ServeConfig } from './serve-config.js';

/** Starts the gateway; resolves with its address once listening. Drains and exits on SIGTERM. */
export async function serve(config: ServeConfig): Promise<{ readonly url: string }> {
  const backend: VoiceBackend = config.livekit
    ? await createBackend('livekit', {
        providerConfig: {
          url: config.livekit.url,
          apiKey: config.livekit.apiKey,
          apiSecret: config.livekit.apiSecret,
          ...(config.livekit.agentName === undefined
            ? {}
            : { agentName: config.livekit.agentName }),
        },
      })
    : await createBackend('simulated', {
        providerConfig: config.simSessionMs > 0 ? { sessionDurationMs: config.simSessionMs } : {},
      });
  await backend.start();
  const prometheus = await startPrometheus({ serve: false, global: false });
  const store =
    config.redisUrl === undefined
      ? undefined
      : redisStore({ redis: config.redisUrl, name: config.redisName });
  const admission = new Admission(backend, {
    maxConcurrentSessions: config.maxSessions,
    ...(config.tenantMax === undefined ? {} : { tenants: { defaultMax: config.tenantMax } }),
    queue: { maxSize: config.queueSize, timeoutMs: config.queueTimeoutMs },
    setup: {
      ...(config.setupConcurrency === undefined ? {} : { concurrency: config.setupConcurrency }),
      ...(config.setupPerSecond === undefined ? {} : { perSecond: config.setupPerSecond }),
    },
    ...(store === undefined ? {} : { store }),
    telemetry: { meterProvider: prometheus.meterProvider },
  });
  const server = createGateway({
    admission,
    backend,
    metrics: prometheus.handler,
    ...(config.livekit === undefined
      ? {}
      : { livekitWebhook: (backend as LiveKitBackend).webhookHandler }),
  });
  server.listen(config.port, config.host);
  await once(server, 'listening');
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : config.port;

  // Keep answering (readyz says not ready, new sessions get 503) until sessions are drained.
  drainOnSignals(admission, {
    timeoutMs: config.drainTimeoutMs,
    onDrained: async (result) => {
      process.stdout.write(`${JSON.stringify({ event: 'drained', ...result })}\n`);
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await backend.stop();
      await store?.close();
      await prometheus.stop();
    },
  });
  return { url: `http://${config.host === '0.0.0.0' ? '127.0.0.1' : config.host}:${port}` };
}
