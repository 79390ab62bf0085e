import type { Attributes, BatchObservableResult, Meter, Observable } from '@opentelemetry/api';
import type { ObservedAdmission } from '../admission/instrumentation.js';
import type { AdmissionStats } from '../admission/types.js';
import { ATTRIBUTE } from './attributes.js';
import { errorCode } from './error-code.js';
import type { Instruments } from './instruments.js';
import type { TenantLabels } from './tenant-labels.js';

const HEALTH_VALUE = { healthy: 1, degraded: 0.5, unhealthy: 0 } as const;
const GLOBAL_SCOPE: Attributes = { [ATTRIBUTE.scope]: 'global' };
const SETUP_SCOPE: Attributes = { [ATTRIBUTE.scope]: 'setup' };

/** Counts by one key, then another (tenant value, then provider or reason). */
type Counts = Map<string, Map<string, number>>;

/** A `capacity.*` series: its instrument and attributes. */
interface CapacitySeries {
  readonly instrument: Observable;
  readonly attributes: Attributes;
}

function add(counts: Counts, outer: string, inner: string, n: number): void {
  let byInner = counts.get(outer);
  if (byInner === undefined) {
    byInner = new Map();
    counts.set(outer, byInner);
  }
  byInner.set(inner, (byInner.get(inner) ?? 0) + n);
}

/**
 * The metrics of every admission on one meter provider, observed by a single callback: the
 * SDK keeps one value per series and callback round, so admissions sharing a series (same
 * tenant, provider or reason) must be added up here, not observed one over the other. Refusal
 * counts outlive the admission that counted them, so the counter never goes down when a
 * drained admission is replaced by a new one.
 */
export class AdmissionMetrics {
  readonly #instruments: Instruments;
  readonly #labels: TenantLabels;
  /** Admissions not yet done; a done one is dropped, so the meter no longer holds it. */
  readonly #live = new Set<ObservedAdmission>();
  /** Refusals so far, by tenant value and reason (bounded: tenants fold, reasons are codes). */
  readonly #refusals: Counts = new Map();
  // Tenant values reported once keep being reported (as 0 when idle), so series end at zero.
  readonly #activeSeen: Counts = new Map();
  readonly #queuedSeen = new Set<string>();
  /**
   * `capacity.*` series reported once, by instrument, scope and tenant: they read 0 once no
   * live admission reports them, since a done admission admits nothing and holds nothing, and
   * the SDK would otherwise repeat their last values for good. Bounded like the tenant values.
   */
  readonly #capacitySeen = new Map<string, CapacitySeries>();
  /**
   * Tenants with `capacity.*` series of their own: reported while idle too, as their cap
   * stands, or as the global cap once theirs is removed (read as 0 it would say they are shut
   * out). Bounded like the tenant values.
   */
  readonly #cappedTenants = new Set<string>();

  constructor(meter: Meter, instruments: Instruments, labels: TenantLabels) {
    this.#instruments = instruments;
    this.#labels = labels;
    const observables: Observable[] = [
      instruments.activeSessions,
      instruments.queueDepth,
      instruments.rejections,
      instruments.health,
      instruments.capacityLimit,
      instruments.utilization,
    ];
    meter.addBatchObservableCallback((result) => this.#observe(result), observables);
  }

  /**
   * Reports an admission: counts and gauges are read from its stats at each collection, the
   * two histograms and the refusal counts are kept per event. Returns the function to call once
   * the admission is done (drained and idle): from then on its counts and `capacity.*` series
   * read zero, its health is no longer observed, and the meter no longer holds on to it.
   */
  observe(admission: ObservedAdmission): () => void {
    const instruments = this.#instruments;
    // These listeners live as long as the admission (it holds them), never longer.
    admission.on('refused', (e) => add(this.#refusals, this.#labels.label(e.tenantId), e.code, 1));
    const outcomes = new Map<string, Attributes>();
    admission.on('dequeued', (e) => {
      let attributes = outcomes.get(e.outcome);
      if (attributes === undefined) {
        attributes = { [ATTRIBUTE.outcome]: e.outcome };
        outcomes.set(e.outcome, attributes);
      }
      instruments.queueWait.record(e.waitedMs / 1000, attributes);
    });
    const byProvider = { [ATTRIBUTE.provider]: admission.backend.provider };
    admission.on('session_created', (e) =>
      instruments.createDuration.record(e.durationMs / 1000, byProvider),
    );
    admission.on('session_failed', (e) =>
      instruments.createDuration.record(e.durationMs / 1000, {
        ...byProvider,
        [ATTRIBUTE.errorType]: errorCode(e.error),
      }),
    );
    this.#live.add(admission);
    return () => {
      this.#live.delete(admission);
    };
  }

  #observe(result: BatchObservableResult): void {
    const instruments = this.#instruments;
    const active: Counts = new Map();
    const queued = new Map<string, number>();
    const capacity = new Map<string, number>();
    for (const admission of this.#live) {
      const stats = admission.stats();
      const provider = admission.backend.provider;
      for (const tenant of stats.tenants) {
        const label = this.#labels.label(tenant.tenantId);
        add(active, label, provider, tenant.active);
        queued.set(label, (queued.get(label) ?? 0) + tenant.queued);
      }
      // Gauges are not sums: with several admissions live, the last one's value shows.
      this.#observeGauges(result, admission, stats, capacity);
    }
    for (const [key, series] of this.#capacitySeen)
      result.observe(series.instrument, capacity.get(key) ?? 0, series.attributes);
    for (const [tenant, byProvider] of active) {
      for (const provider of byProvider.keys()) add(this.#activeSeen, tenant, provider, 0);
    }
    for (const tenant of queued.keys()) this.#queuedSeen.add(tenant);
    for (const [tenant, byProvider] of this.#activeSeen) {
      for (const provider of byProvider.keys())
        result.observe(instruments.activeSessions, active.get(tenant)?.get(provider) ?? 0, {
          [ATTRIBUTE.provider]: provider,
          [ATTRIBUTE.tenant]: tenant,
        });
    }
    for (const tenant of this.#queuedSeen)
      result.observe(instruments.queueDepth, queued.get(tenant) ?? 0, {
        [ATTRIBUTE.tenant]: tenant,
      });
    for (const [tenant, byReason] of this.#refusals) {
      for (const [reason, count] of byReason)
        result.observe(instruments.rejections, count, {
          [ATTRIBUTE.reason]: reason,
          [ATTRIBUTE.tenant]: tenant,
        });
    }
  }

  #observeGauges(
    result: BatchObservableResult,
    admission: ObservedAdmission,
    stats: AdmissionStats,
    capacity: Map<string, number>,
  ): void {
    const instruments = this.#instruments;
    if (stats.health !== undefined) {
      result.observe(instruments.health, HEALTH_VALUE[stats.health.status], {
        [ATTRIBUTE.provider]: admission.backend.provider,
      });
    }
    const report = (name: 'limit' | 'utilization', value: number, attributes: Attributes) => {
      const key = `${name}\n${attributes[ATTRIBUTE.scope]}\n${attributes[ATTRIBUTE.tenant] ?? ''}`;
      if (!this.#capacitySeen.has(key)) {
        const instrument = name === 'limit' ? instruments.capacityLimit : instruments.utilization;
        this.#capacitySeen.set(key, { instrument, attributes });
      }
      capacity.set(key, value);
    };
    report('limit', stats.limit, GLOBAL_SCOPE);
    report('utilization', stats.utilization, GLOBAL_SCOPE);
    if (stats.setupConcurrency !== Number.POSITIVE_INFINITY) {
      report('limit', stats.setupConcurrency, SETUP_SCOPE);
    }
    const held = new Map<string, number>();
    for (const tenant of stats.tenants) {
      // Folded tenants share `other`, which has no single limit to report.
      if (this.#labels.has(tenant.tenantId)) held.set(tenant.tenantId, tenant.active);
    }
    for (const tenantId of this.#cappedTenants) if (!held.has(tenantId)) held.set(tenantId, 0);
    for (const [tenantId, active] of held) {
      let limit = admission.tenantLimit(tenantId);
      if (limit === Number.POSITIVE_INFINITY) {
        // Never capped: no series. Capped once, its series go on with what it may hold now, the
        // global cap (read as 0 they would say it is shut out).
        if (!this.#cappedTenants.has(tenantId)) continue;
        limit = stats.limit;
      }
      this.#cappedTenants.add(tenantId);
      const attributes = {
        [ATTRIBUTE.scope]: 'tenant',
        [ATTRIBUTE.tenant]: tenantId,
      };
      report('limit', limit, attributes);
      report('utilization', limit === 0 ? 1 : active / limit, attributes);
    }
  }
}
