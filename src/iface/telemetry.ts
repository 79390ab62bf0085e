import type { MeterProvider, TracerProvider } from '@opentelemetry/api';

/** How an admission reports through OpenTelemetry. Pass `telemetry: false` to turn it off. */
export interface TelemetryOptions {
  /** Default: the global meter provider (a no-op until an SDK registers one). */
  readonly meterProvider?: MeterProvider | undefined;
  /** Default: the global tracer provider. */
  readonly tracerProvider?: TracerProvider | undefined;
  /**
   * Tenants that get their own metric attribute value; the rest are folded into `other`, so a
   * flood of tenant ids cannot blow up metric cardinality. The first ones seen keep their
   * value for the life of the process. Default 50. Admissions sharing a meter provider share
   * their tenant values: the first one's `maxTenants` and `tenants` apply to all of them.
   */
  readonly maxTenants?: number | undefined;
  /**
   * The tenants that may have their own attribute value (at most `maxTenants` of them); every
   * other tenant is `other`. Default: none named, the first tenants seen get values.
   */
  readonly tenants?: readonly string[] | undefined;
  /** Put the caller's user id on spans (`enduser.id`). Off by default: it may be personal data. */
  readonly recordUserId?: boolean | undefined;
}
