import { ConfigError } from '../../iface/errors.js';
import type { CapacityStore } from './capacity-store.js';

/**
 * The caps the `Admission`s sharing a store object hold in common (an adaptive `limit` is each
 * one's own, under them).
 * @internal
 */
export interface SharedCaps {
  readonly maxConcurrentSessions: number;
  /** `Infinity` for none. */
  readonly tenantDefaultMax: number;
  readonly tenantMax: ReadonlyMap<string, number>;
}

/**
 * An `Admission` counting in a store: its caps now, and how it takes another's change.
 * @internal
 */
export interface CapsHolder {
  caps(): SharedCaps;
  /** Another holder changed the caps (for `tenantId` only, when given): take them. */
  adopt(caps: SharedCaps, tenantId: string | undefined): void;
}

/**
 * The `Admission`s counting in one store object, which hold one set of caps: the first sets
 * them, another given different caps is refused with a `ConfigError` naming both values, a
 * change on any is taken by all, and once every one has drained the next sets them afresh.
 * @internal
 */
export class CapsCircle {
  readonly #holders = new Set<CapsHolder>();
  /** The store's kind, as its factory and in prose: `memory`, `redis`. */
  readonly #kind: string;
  /** What to do instead, at the end of a refusal. */
  readonly #remedy: string;

  constructor(kind: string, remedy: string) {
    this.#kind = kind;
    this.#remedy = remedy;
  }

  /**
   * Refuses caps other than those of the Admissions already counting here, naming the first
   * that differs and both its values.
   */
  check(caps: SharedCaps): void {
    const [holder] = this.#holders;
    if (holder === undefined) return;
    const held = holder.caps();
    const differs = (field: string, mine: number | undefined, theirs: number | undefined) =>
      new ConfigError(
        `options.${field}`,
        `is ${showCap(mine)}, but the ${this.#kind}Store() it is given counts for another ` +
          `Admission whose ${field} is ${showCap(theirs)}: Admissions sharing a ${this.#kind} ` +
          `store share its caps, so give them the same ${this.#remedy}`,
      );
    if (caps.maxConcurrentSessions !== held.maxConcurrentSessions) {
      throw differs(
        'maxConcurrentSessions',
        caps.maxConcurrentSessions,
        held.maxConcurrentSessions,
      );
    }
    if (caps.tenantDefaultMax !== held.tenantDefaultMax) {
      throw differs('tenants.defaultMax', caps.tenantDefaultMax, held.tenantDefaultMax);
    }
    const tenants = [...new Set([...caps.tenantMax.keys(), ...held.tenantMax.keys()])].sort();
    for (const tenantId of tenants) {
      const mine = caps.tenantMax.get(tenantId);
      const theirs = held.tenantMax.get(tenantId);
      if (mine !== theirs) throw differs(`tenants.max.${tenantId}`, mine, theirs);
    }
  }

  /**
   * Counts `holder` in from now on, its caps checked already (`check`, before it claims
   * anything); returns how it leaves (when it has drained).
   */
  join(holder: CapsHolder): () => void {
    this.#holders.add(holder);
    return () => {
      this.#holders.delete(holder);
    };
  }

  /** `holder` changed its caps: every other holder takes them, so all keep one set. */
  changed(holder: CapsHolder, tenantId: string | undefined): void {
    if (!this.#holders.has(holder) || this.#holders.size === 1) return;
    const caps = holder.caps();
    for (const other of [...this.#holders]) {
      if (other !== holder) other.adopt(caps, tenantId);
    }
  }
}

/** The circle of a store whose Admissions hold one set of caps, when it has one. */
export function capsCircleOf(store: CapacityStore): CapsCircle | undefined {
  const circle = (store as { readonly capsCircle?: unknown }).capsCircle;
  return circle instanceof CapsCircle ? circle : undefined;
}

function showCap(value: number | undefined): string {
  if (value === undefined) return 'not set';
  return value === Number.POSITIVE_INFINITY ? 'Infinity (no cap)' : String(value);
}
