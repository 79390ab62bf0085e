import type { AdmissionErrorCode } from '../iface/errors.js';
import type { HealthStatus } from '../iface/health.js';
import type { LatencySignalState } from './adaptive/slo-limit.js';

/** How a queued request left the queue. */
export type DequeueOutcome =
  | 'admitted'
  | 'queue_timeout'
  /** Its tenant's cap was lowered to 0 while it waited. */
  | 'tenant_capacity'
  | 'aborted'
  | 'draining'
  | 'store_unavailable';

/** What a drain did. */
export interface DrainResult {
  /** True when the deadline came before every slot was released. */
  readonly timedOut: boolean;
  /** Slots held when the drain began. */
  readonly activeAtStart: number;
  /**
   * Queued requests rejected with `draining`, and retries that were waiting for an abandoned
   * creation of their idempotency key to finish.
   */
  readonly rejectedWaiters: number;
  /** Sessions closed at the deadline (reason `drained`). */
  readonly closedAtDeadline: number;
  /** Session setups under way at the deadline, aborted. */
  readonly abortedSetups: number;
  /** Raw slots (from `acquire()`) whose holders were told to stop (`slot.signal`) at the deadline. */
  readonly revokedSlots: number;
  /** Slots still held when the drain resolved (holders that ignored the deadline). */
  readonly stillActive: number;
  readonly durationMs: number;
}

/**
 * Everything admission reports. Every caller refused emits exactly one `refused` (each caller
 * of a shared idempotency key counts); every request that waited in the queue emits exactly
 * one `dequeued`; every granted slot emits one `admitted` and, later, one `released`. A
 * listener's `stats()` add up: a waiter dequeued `admitted` is counted active already.
 */
export interface AdmissionEvents {
  admitted: { readonly tenantId: string; readonly waitedMs: number; readonly active: number };
  queued: { readonly tenantId: string; readonly depth: number };
  dequeued: {
    readonly tenantId: string;
    readonly waitedMs: number;
    readonly outcome: DequeueOutcome;
  };
  refused: {
    readonly tenantId: string;
    readonly code: AdmissionErrorCode;
    readonly retryAfterMs: number | undefined;
  };
  released: { readonly tenantId: string; readonly heldMs: number; readonly active: number };
  session_created: {
    readonly tenantId: string;
    readonly sessionId: string;
    readonly provider: string;
    readonly durationMs: number;
  };
  session_failed: {
    readonly tenantId: string;
    readonly provider: string;
    readonly durationMs: number;
    readonly error: unknown;
  };
  health: {
    readonly status: HealthStatus;
    readonly previous: HealthStatus | undefined;
    readonly admitting: boolean;
  };
  /** A cap changed: by `setLimits`, or an adaptive limit moved. */
  limits: {
    /** The hard cap. */
    readonly maxConcurrentSessions: number;
    /** The cap on sessions in force (the adaptive limit, under the hard cap). */
    readonly limit: number;
    /** The cap on concurrent setups in force (`Infinity` when none). */
    readonly setupConcurrency: number;
  };
  /**
   * The latency signal of an `adaptive({ slo })` limit turned live, or went missing (no sample
   * for `staleMs`) and the limit fell back to `fallback`.
   */
  latency_signal: LatencySignalState;
  draining: { readonly active: number; readonly queued: number };
  drained: DrainResult;
  store_error: { readonly operation: 'acquire' | 'release' | 'bind'; readonly error: unknown };
  /**
   * The shared store dropped a slot held here (see docs/redis.md). Its session is closed with
   * reason `lease_lost` to keep the cap; a raw slot's `signal` aborts.
   */
  lease_lost: { readonly tenantId: string; readonly sessionId: string | undefined };
}

/** How admission's parts report events through the one emitter users subscribe to. */
export interface EventSink {
  /** True when someone listens: payloads are built only then. */
  wants(event: keyof AdmissionEvents): boolean;
  emit<K extends keyof AdmissionEvents>(event: K, payload: AdmissionEvents[K]): void;
}
