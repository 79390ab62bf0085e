import { ConfigError } from '../iface/errors.js';
import type { PrometheusEndpoint, PrometheusOptions } from '../telemetry/prometheus.js';

/** The optional peer packages `/metrics` needs. */
export const METRICS_PACKAGES = [
  '@opentelemetry/sdk-metrics',
  '@opentelemetry/exporter-prometheus',
] as const;

/**
 * Loads the Prometheus exporter only now that metrics are asked for: its packages are
 * optional peers, so the CLI runs without them until `--metrics` is given. Says what to
 * install when they are missing.
 */
export async function loadPrometheus(
  options: Omit<PrometheusOptions, 'global'>,
): Promise<PrometheusEndpoint> {
  let module: typeof import('../telemetry/prometheus.js');
  try {
    module = await import('../telemetry/prometheus.js');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') {
      throw new ConfigError(
        '--metrics',
        `needs the packages ${METRICS_PACKAGES.join(' and ')}: npm install ${METRICS_PACKAGES.join(' ')}`,
      );
    }
    throw error;
  }
  return module.startPrometheus({ ...options, global: false });
}
