/** The attribute value tenants beyond the limit share. */
export const OTHER_TENANT = 'other';

/**
 * Maps tenant ids to metric attribute values with bounded cardinality: the first `max`
 * distinct tenants keep their own value for the life of the process, every later one becomes
 * `other`. Deterministic, so a tenant's +1 and its later -1 always land on the same series.
 */
export class TenantLabels {
  readonly #max: number;
  readonly #known = new Set<string>();

  constructor(max: number) {
    this.#max = max;
  }

  label(tenantId: string): string {
    if (this.#known.has(tenantId)) return tenantId;
    if (this.#known.size >= this.#max) return OTHER_TENANT;
    this.#known.add(tenantId);
    return tenantId;
  }

  /** Tenants with their own value (the ones per-tenant gauges report). */
  has(tenantId: string): boolean {
    return this.#known.has(tenantId);
  }
}
