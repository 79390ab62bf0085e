import type { AdmissionErrorCode } from '../iface/errors.js';
import type { HealthStatus } from '../iface/health.js';
import type { SloStats } from './adaptive/slo-limit.js';

/* The shapes of Admission's calls, options and reports. */

/** Who a raw slot is for. */
export interface SlotRequest {
  /** Default `'default'`; 1 to 128 printable characters. */
  readonly tenantId?: string | undefined;
  /** Higher is served first; default 0. */
  readonly priority?: number | undefined;
}

/** A refusal returned as a value by `tryAcquire()` (no Error is built on that path). */
export interface AdmissionRefusal {
  readonly code: AdmissionErrorCode;
  readonly tenantId: string;
  readonly retryAfterMs: number | undefined;
}

export interface AcquireOptions {
  readonly signal?: AbortSignal | undefined;
  /** Longest wait in the queue; overrides `queue.timeoutMs`. 0 refuses instead of waiting. */
  readonly timeoutMs?: number | undefined;
}

export interface CreateSessionOptions extends AcquireOptions {
  readonly priority?: number | undefined;
}

export interface LimitsUpdate {
  readonly maxConcurrentSessions?: number | undefined;
  readonly tenants?:
    | {
        readonly defaultMax?: number | undefined;
        readonly max?: Readonly<Record<string, number>> | undefined;
      }
    | undefined;
}

export interface DrainOptions {
  /** How long sessions may go on before they are closed. Default 30 000 ms. */
  readonly timeoutMs?: number | undefined;
  /**
   * How long to wait, at the deadline, for the closes made then and for raw slots to be given
   * back on their signal. Default 5 000 ms.
   */
  readonly closeTimeoutMs?: number | undefined;
}

export type AdmissionState = 'open' | 'draining' | 'drained';

export interface TenantStats {
  readonly tenantId: string;
  readonly active: number;
  readonly queued: number;
  readonly limit: number;
}

export interface AdmissionStats {
  readonly state: AdmissionState;
  /** Slots held by this instance (sessions and sessions being set up). */
  readonly active: number;
  readonly queued: number;
  /** Sessions in their setup phase (holding a slot, backend create under way). */
  readonly settingUp: number;
  /** The cap on sessions in force (adaptive, when configured, under the hard cap). */
  readonly limit: number;
  /** The hard cap. */
  readonly maxConcurrentSessions: number;
  /** The cap on concurrent setups in force (`Infinity` when none). */
  readonly setupConcurrency: number;
  readonly utilization: number;
  readonly admitting: boolean;
  /**
   * False while the store cannot take acquires (Redis out of reach, or refusing writes): every
   * request is refused `store_unavailable` meanwhile, whatever `admitting` says.
   */
  readonly storeAvailable: boolean;
  readonly health: HealthStatus | undefined;
  readonly tenants: readonly TenantStats[];
  /** The latency objective steering `limit`, when it has one. */
  readonly slo: SloStats | undefined;
}
