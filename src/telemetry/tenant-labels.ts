/** The attribute value tenants beyond the limit share. */
export const OTHER_TENANT = 'other';
/** Longer tenant ids never get a value of their own (they share `other`). */
export const MAX_TENANT_LABEL_LENGTH = 64;

/**
 * Maps tenant ids to metric attribute values with bounded cardinality and length. When tenants
 * are named (the operator's: those with a cap or a token), only they get their own value, so
 * ids a caller makes up can never take a real tenant's place; otherwise the first `max`
 * distinct ids seen keep their own value for the life of the process. Ids longer than
 * `MAX_TENANT_LABEL_LENGTH` always become `other`, and so does a tenant called `other`: it
 * would be told apart from the folded ones by nothing, so it takes no place and reports no
 * limit of its own. Deterministic, so a tenant's +1 and its later -1 always land on the same
 * series.
 */
export class TenantLabels {
  readonly #max: number;
  readonly #known = new Set<string>();
  /** True when the known set is fixed by the names given. */
  readonly #named: boolean;

  constructor(max: number, named: readonly string[] = []) {
    this.#max = max;
    for (const tenantId of named) {
      if (this.#known.size < max && ownLabel(tenantId)) {
        this.#known.add(tenantId);
      }
    }
    this.#named = named.length > 0;
  }

  label(tenantId: string): string {
    if (this.#known.has(tenantId)) return tenantId;
    if (this.#named || this.#known.size >= this.#max) return OTHER_TENANT;
    if (!ownLabel(tenantId)) return OTHER_TENANT;
    this.#known.add(tenantId);
    return tenantId;
  }

  /** Tenants with their own value (the ones per-tenant gauges report). */
  has(tenantId: string): boolean {
    return this.#known.has(tenantId);
  }
}

function ownLabel(tenantId: string): boolean {
  return tenantId !== OTHER_TENANT && tenantId.length <= MAX_TENANT_LABEL_LENGTH;
}
