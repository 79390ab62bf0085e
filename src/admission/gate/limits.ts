import { tenantIdField } from '../../internal/tenant-id.js';
import { knownKeys, numberField, optionsOrUndefined } from '../../internal/validate.js';
import type { AdaptiveLimit } from '../adaptive/adaptive-limit.js';
import type { SharedCaps } from '../store/shared-caps.js';
import type { LimitsUpdate } from '../types.js';
import type { CapsView } from './refusals.js';

const INF = Number.POSITIVE_INFINITY;

/** A session cap: a positive integer a counter can still count to exactly. */
export const SESSION_CAP = { min: 1, max: Number.MAX_SAFE_INTEGER, integer: true } as const;
const TENANT_CAP = { min: 0, max: Number.MAX_SAFE_INTEGER, integer: true, infinite: true } as const;
const TENANT_DEFAULT = {
  min: 1,
  max: Number.MAX_SAFE_INTEGER,
  integer: true,
  infinite: true,
} as const;

export interface TenantCaps {
  readonly defaultMax: number;
  readonly max: Map<string, number>;
}

/** Reads `tenants: { defaultMax, max }`, naming `field` in errors. */
export function resolveTenantCaps(field: string, raw: unknown): TenantCaps {
  const tenants = optionsOrUndefined(field, raw) ?? {};
  knownKeys(field, tenants, ['defaultMax', 'max']);
  const defaultMax = numberField(`${field}.defaultMax`, tenants.defaultMax, TENANT_DEFAULT, INF);
  const overrides = optionsOrUndefined(`${field}.max`, tenants.max) ?? {};
  const max = new Map<string, number>();
  for (const [tenantId, value] of Object.entries(overrides)) {
    tenantIdField(`${field}.max`, tenantId);
    max.set(tenantId, numberField(`${field}.max.${tenantId}`, value, TENANT_CAP, INF));
  }
  return { defaultMax, max };
}

/**
 * The caps in force: the hard cap (`maxConcurrentSessions`, shared through the store), the
 * optional adaptive limit on this instance's sessions under it, and the tenant caps. Changes
 * are validated here; whoever changes them tells the gate that capacity may have freed.
 */
export class Limits implements CapsView {
  #hard = 0;
  readonly adaptive: AdaptiveLimit | undefined;
  #tenantDefault: number;
  #tenantMax: Map<string, number>;
  /** Overrides of 0, so that while there are none `isShutOut` reads no map. */
  #shutOut: number;

  constructor(hard: number, adaptive: AdaptiveLimit | undefined, tenants: TenantCaps) {
    this.adaptive = adaptive;
    this.#setHard(hard);
    this.#tenantDefault = tenants.defaultMax;
    this.#tenantMax = new Map(tenants.max);
    this.#shutOut = zeroCaps(this.#tenantMax);
  }

  /** The hard cap; set only through `#setHard`, which holds the adaptive limit under it. */
  get hard(): number {
    return this.#hard;
  }

  /** The cap on sessions in force: the adaptive limit when there is one, under the hard cap. */
  get current(): number {
    return this.adaptive === undefined ? this.hard : Math.min(this.hard, this.adaptive.current);
  }

  /** The cap in force for `tenantId` (`Infinity` when none). */
  tenant(tenantId: string): number {
    // Most deployments name no tenant: then no lookup (with many tenants, each one a cache miss).
    if (this.#tenantMax.size === 0) return this.#tenantDefault;
    return this.#tenantMax.get(tenantId) ?? this.#tenantDefault;
  }

  /** Whether `tenantId` may hold no slot at all: its cap is 0. */
  isShutOut(tenantId: string): boolean {
    return this.#shutOut > 0 && this.#tenantMax.get(tenantId) === 0;
  }

  /** Tenants whose cap is 0 (only an override can be: the default is at least 1). */
  *shutOutTenants(): IterableIterator<string> {
    if (this.#shutOut === 0) return;
    for (const [tenantId, max] of this.#tenantMax) if (max === 0) yield tenantId;
  }

  /** Applies `setLimits()`: every field is checked before anything changes. */
  update(update: LimitsUpdate): void {
    const value = optionsOrUndefined('update', update) ?? {};
    knownKeys('update', value, ['maxConcurrentSessions', 'tenants']);
    const hard = numberField(
      'update.maxConcurrentSessions',
      value.maxConcurrentSessions,
      SESSION_CAP,
    );
    if (value.tenants !== undefined) {
      const tenants = optionsOrUndefined('update.tenants', value.tenants) ?? {};
      const parsed = resolveTenantCaps('update.tenants', tenants);
      if (tenants.defaultMax !== undefined) this.#tenantDefault = parsed.defaultMax;
      if (tenants.max !== undefined) {
        this.#tenantMax = parsed.max;
        this.#shutOut = zeroCaps(parsed.max);
      }
    }
    if (hard !== undefined) this.#setHard(hard);
  }

  #setHard(hard: number): void {
    this.#hard = hard;
    this.adaptive?.capAt(hard);
  }

  /** The caps as Admissions sharing a memory store hold them (the adaptive limit aside). */
  caps(): SharedCaps {
    return {
      maxConcurrentSessions: this.hard,
      tenantDefaultMax: this.#tenantDefault,
      tenantMax: this.#tenantMax,
    };
  }

  /** Takes caps another Admission sharing the store set (already validated there). */
  adopt(caps: SharedCaps): void {
    this.#setHard(caps.maxConcurrentSessions);
    this.#tenantDefault = caps.tenantDefaultMax;
    this.#tenantMax = new Map(caps.tenantMax);
    this.#shutOut = zeroCaps(this.#tenantMax);
  }

  /** Sets one tenant's cap; `undefined` returns it to the default. */
  setTenant(tenantId: string, max: number | undefined): void {
    tenantIdField('tenantId', tenantId);
    const cap =
      max === undefined ? undefined : numberField(`tenants.max.${tenantId}`, max, TENANT_CAP, 0);
    if (this.#tenantMax.get(tenantId) === 0) this.#shutOut--;
    if (cap === undefined) this.#tenantMax.delete(tenantId);
    else {
      this.#tenantMax.set(tenantId, cap);
      if (cap === 0) this.#shutOut++;
    }
  }
}

function zeroCaps(max: ReadonlyMap<string, number>): number {
  let count = 0;
  for (const cap of max.values()) if (cap === 0) count++;
  return count;
}
