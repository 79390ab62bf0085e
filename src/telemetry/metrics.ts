import type { Attributes, BatchObservableResult, Meter } from '@opentelemetry/api';
import type { Admission } from '../admission/admission.js';
import { errorCode } from './error-code.js';
import type { Instruments } from './instruments.js';
import type { TenantLabels } from './tenant-labels.js';

const HEALTH_VALUE = { healthy: 1, degraded: 0.5, unhealthy: 0 } as const;

/**
 * Feeds an admission's events into the instruments and reports its gauges at each
 * collection. Returns the function that stops both.
 */
export function observeAdmission(
  admission: Admission,
  meter: Meter,
  instruments: Instruments,
  labels: TenantLabels,
): () => void {
  const provider = admission.backend.provider;
  const tenantAttributes = attributeCache((tenant) => ({ tenant }));
  const sessionAttributes = attributeCache((tenant) => ({ provider, tenant }));
  const stops = [
    admission.on('admitted', (e) =>
      instruments.activeSessions.add(1, sessionAttributes(labels.label(e.tenantId))),
    ),
    admission.on('released', (e) =>
      instruments.activeSessions.add(-1, sessionAttributes(labels.label(e.tenantId))),
    ),
    admission.on('refused', (e) =>
      instruments.rejections.add(1, { reason: e.code, tenant: labels.label(e.tenantId) }),
    ),
    admission.on('queued', (e) =>
      instruments.queueDepth.add(1, tenantAttributes(labels.label(e.tenantId))),
    ),
    admission.on('dequeued', (e) => {
      instruments.queueDepth.add(-1, tenantAttributes(labels.label(e.tenantId)));
      instruments.queueWait.record(e.waitedMs / 1000, { outcome: e.outcome });
    }),
    admission.on('session_created', (e) =>
      instruments.createDuration.record(e.durationMs / 1000, { provider, outcome: 'created' }),
    ),
    admission.on('session_failed', (e) =>
      instruments.createDuration.record(e.durationMs / 1000, {
        provider,
        outcome: outcomeOf(e.error),
      }),
    ),
  ];

  const gauges = [instruments.health, instruments.capacityLimit, instruments.utilization];
  const observe = (result: BatchObservableResult): void => {
    const stats = admission.stats();
    if (stats.health !== undefined) {
      result.observe(instruments.health, HEALTH_VALUE[stats.health.status], { provider });
    }
    result.observe(instruments.capacityLimit, stats.limit, { scope: 'global' });
    result.observe(instruments.utilization, stats.utilization, { scope: 'global' });
    if (stats.setupConcurrency !== Number.POSITIVE_INFINITY) {
      result.observe(instruments.capacityLimit, stats.setupConcurrency, { scope: 'setup' });
    }
    for (const tenant of stats.tenants) {
      // Folded tenants share `other`, which has no single limit to report.
      if (!labels.has(tenant.tenantId) || tenant.limit === Number.POSITIVE_INFINITY) continue;
      const attributes = { scope: 'tenant', tenant: tenant.tenantId };
      result.observe(instruments.capacityLimit, tenant.limit, attributes);
      result.observe(
        instruments.utilization,
        tenant.limit === 0 ? 1 : tenant.active / tenant.limit,
        attributes,
      );
    }
  };
  meter.addBatchObservableCallback(observe, gauges);

  return () => {
    for (const stop of stops) stop();
    meter.removeBatchObservableCallback(observe, gauges);
  };
}

/** The outcome attribute of a failed setup: its error code (a small, fixed set). */
function outcomeOf(error: unknown): string {
  return errorCode(error);
}

/** One attributes object per tenant value, so recording allocates nothing. */
function attributeCache(make: (tenant: string) => Attributes): (tenant: string) => Attributes {
  const cache = new Map<string, Attributes>();
  return (tenant) => {
    let attributes = cache.get(tenant);
    if (attributes === undefined) {
      attributes = make(tenant);
      cache.set(tenant, attributes);
    }
    return attributes;
  };
}
