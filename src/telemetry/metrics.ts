import type { Attributes, BatchObservableResult, Meter, Observable } from '@opentelemetry/api';
import type { ObservedAdmission } from '../admission/instrumentation.js';
import { ATTRIBUTE } from './attributes.js';
import { errorCode } from './error-code.js';
import type { Instruments } from './instruments.js';
import type { TenantLabels } from './tenant-labels.js';

const HEALTH_VALUE = { healthy: 1, degraded: 0.5, unhealthy: 0 } as const;
const GLOBAL_SCOPE: Attributes = { [ATTRIBUTE.scope]: 'global' };
const SETUP_SCOPE: Attributes = { [ATTRIBUTE.scope]: 'setup' };
const tenantAttributes = (tenant: string): Attributes => ({ [ATTRIBUTE.tenant]: tenant });

/**
 * Reports an admission: counts and gauges are read from its stats at each collection, the two
 * histograms and the refusal counts are kept per event. Returns the function to call once the
 * admission is done (drained and idle): from then on its series read zero and its gauges
 * disappear, and the meter no longer holds on to the admission.
 */
export function observeAdmission(
  admission: ObservedAdmission,
  meter: Meter,
  instruments: Instruments,
  labels: TenantLabels,
): () => void {
  const provider = admission.backend.provider;
  /** Refusals so far, by tenant value and reason (bounded: tenants fold, reasons are codes). */
  const refusals = new Map<string, Map<string, number>>();
  // These listeners live as long as the admission (it holds them), never longer.
  admission.on('refused', (e) => {
    const tenant = labels.label(e.tenantId);
    let byReason = refusals.get(tenant);
    if (byReason === undefined) {
      byReason = new Map();
      refusals.set(tenant, byReason);
    }
    byReason.set(e.code, (byReason.get(e.code) ?? 0) + 1);
  });
  const outcomes = new Map<string, Attributes>();
  admission.on('dequeued', (e) => {
    let attributes = outcomes.get(e.outcome);
    if (attributes === undefined) {
      attributes = { [ATTRIBUTE.outcome]: e.outcome };
      outcomes.set(e.outcome, attributes);
    }
    instruments.queueWait.record(e.waitedMs / 1000, attributes);
  });
  const byProvider = { [ATTRIBUTE.provider]: provider };
  admission.on('session_created', (e) =>
    instruments.createDuration.record(e.durationMs / 1000, byProvider),
  );
  admission.on('session_failed', (e) =>
    instruments.createDuration.record(e.durationMs / 1000, {
      ...byProvider,
      [ATTRIBUTE.errorType]: errorCode(e.error),
    }),
  );

  const activeAttributes = (tenant: string): Attributes => ({
    ...byProvider,
    [ATTRIBUTE.tenant]: tenant,
  });
  // Tenant values reported once keep being reported (as 0 when idle), so series end at zero.
  const activeSeen = new Set<string>();
  const queuedSeen = new Set<string>();
  let current: ObservedAdmission | undefined = admission;
  const observe = (result: BatchObservableResult): void => {
    const stats = current?.stats();
    if (stats === undefined) {
      observeBy(result, instruments.activeSessions, new Map(), activeSeen, activeAttributes);
      observeBy(result, instruments.queueDepth, new Map(), queuedSeen, tenantAttributes);
      observeRefusals(result, instruments, refusals);
      return;
    }
    const active = new Map<string, number>();
    const queued = new Map<string, number>();
    for (const tenant of stats.tenants) {
      const label = labels.label(tenant.tenantId);
      active.set(label, (active.get(label) ?? 0) + tenant.active);
      queued.set(label, (queued.get(label) ?? 0) + tenant.queued);
    }
    observeBy(result, instruments.activeSessions, active, activeSeen, activeAttributes);
    observeBy(result, instruments.queueDepth, queued, queuedSeen, tenantAttributes);
    observeRefusals(result, instruments, refusals);
    if (stats.health !== undefined) {
      result.observe(instruments.health, HEALTH_VALUE[stats.health.status], byProvider);
    }
    result.observe(instruments.capacityLimit, stats.limit, GLOBAL_SCOPE);
    result.observe(instruments.utilization, stats.utilization, GLOBAL_SCOPE);
    if (stats.setupConcurrency !== Number.POSITIVE_INFINITY) {
      result.observe(instruments.capacityLimit, stats.setupConcurrency, SETUP_SCOPE);
    }
    for (const tenant of stats.tenants) {
      // Folded tenants share `other`, which has no single limit to report.
      if (!labels.has(tenant.tenantId) || tenant.limit === Number.POSITIVE_INFINITY) continue;
      const attributes = {
        [ATTRIBUTE.scope]: 'tenant',
        [ATTRIBUTE.tenant]: tenant.tenantId,
      };
      result.observe(instruments.capacityLimit, tenant.limit, attributes);
      result.observe(
        instruments.utilization,
        tenant.limit === 0 ? 1 : tenant.active / tenant.limit,
        attributes,
      );
    }
  };
  const observables = [
    instruments.activeSessions,
    instruments.queueDepth,
    instruments.rejections,
    instruments.health,
    instruments.capacityLimit,
    instruments.utilization,
  ];
  meter.addBatchObservableCallback(observe, observables);

  return () => {
    current = undefined;
  };
}

function observeRefusals(
  result: BatchObservableResult,
  instruments: Instruments,
  refusals: ReadonlyMap<string, ReadonlyMap<string, number>>,
): void {
  for (const [tenant, byReason] of refusals) {
    for (const [reason, count] of byReason)
      result.observe(instruments.rejections, count, {
        [ATTRIBUTE.reason]: reason,
        [ATTRIBUTE.tenant]: tenant,
      });
  }
}

function observeBy(
  result: BatchObservableResult,
  instrument: Observable,
  values: ReadonlyMap<string, number>,
  seen: Set<string>,
  attributes: (tenant: string) => Attributes,
): void {
  for (const tenant of values.keys()) seen.add(tenant);
  for (const tenant of seen)
    result.observe(instrument, values.get(tenant) ?? 0, attributes(tenant));
}
