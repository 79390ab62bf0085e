import type { Resource } from '@opentelemetry/resources';
import { stringField } from '../internal/validate.js';

type ResourcesModule = typeof import('@opentelemetry/resources');

/**
 * `service.name` for a helper's Resource: the option, else `OTEL_SERVICE_NAME` (the variable
 * every OpenTelemetry SDK reads), else `voice-admission`.
 */
export function serviceNameOf(field: string, value: unknown): string {
  const name = stringField(field, value) ?? process.env.OTEL_SERVICE_NAME;
  return name === undefined || name === '' ? 'voice-admission' : name;
}

/** The SDK's default Resource (`telemetry.sdk.*`) with `service.name` set. */
export function serviceResource(resources: ResourcesModule, serviceName: string): Resource {
  return resources
    .defaultResource()
    .merge(resources.resourceFromAttributes({ 'service.name': serviceName }));
}
