import type { MeterProvider, TracerProvider } from '@opentelemetry/api';
import { ConfigError } from '../iface/errors.js';
import type { TelemetryOptions } from '../iface/telemetry.js';
import {
  booleanField,
  describeValue,
  knownKeys,
  numberField,
  objectOrUndefined,
} from '../internal/validate.js';

export type { TelemetryOptions };

export interface ResolvedTelemetryOptions {
  readonly meterProvider: MeterProvider | undefined;
  readonly tracerProvider: TracerProvider | undefined;
  readonly maxTenants: number;
  readonly tenants: readonly string[];
  readonly recordUserId: boolean;
}

export function resolveTelemetryOptions(raw: unknown): ResolvedTelemetryOptions {
  const value = objectOrUndefined('options.telemetry', raw) ?? {};
  knownKeys('options.telemetry', value, [
    'meterProvider',
    'tracerProvider',
    'maxTenants',
    'tenants',
    'recordUserId',
  ]);
  const tenants = value.tenants ?? [];
  if (!Array.isArray(tenants) || tenants.some((t) => typeof t !== 'string')) {
    throw new ConfigError(
      'options.telemetry.tenants',
      `must be an array of tenant ids, got ${describeValue(tenants)}`,
    );
  }
  const meterProvider = value.meterProvider as MeterProvider | null | undefined;
  if (meterProvider !== undefined && typeof meterProvider?.getMeter !== 'function') {
    throw new ConfigError(
      'options.telemetry.meterProvider',
      `must be a MeterProvider, got ${describeValue(meterProvider)}`,
    );
  }
  const tracerProvider = value.tracerProvider as TracerProvider | null | undefined;
  if (tracerProvider !== undefined && typeof tracerProvider?.getTracer !== 'function') {
    throw new ConfigError(
      'options.telemetry.tracerProvider',
      `must be a TracerProvider, got ${describeValue(tracerProvider)}`,
    );
  }
  return {
    meterProvider,
    tracerProvider,
    maxTenants: numberField(
      'options.telemetry.maxTenants',
      value.maxTenants,
      { min: 0, integer: true },
      50,
    ),
    tenants: tenants as string[],
    recordUserId: booleanField('options.telemetry.recordUserId', value.recordUserId, false),
  };
}
