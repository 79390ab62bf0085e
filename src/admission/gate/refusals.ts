import { AdmissionError, type AdmissionErrorCode } from '../../iface/errors.js';
import type { AdmissionRefusal } from '../types.js';

/** What a refusal message may mention: the caps in force. */
export interface CapsView {
  /** The cap on sessions in force. */
  readonly current: number;
  tenant(tenantId: string): number;
}

/** Extra facts a refusal carries. */
export interface RefusalDetails {
  readonly cause?: unknown;
  readonly retryAfterMs?: number | undefined;
  readonly sessionId?: string | undefined;
}

/**
 * Builds every `AdmissionError` admission gives out, so codes, messages and retry hints are
 * decided in one place. Building does not count: whoever hands the error to a caller reports
 * it (one `refused` per refused caller).
 */
export class Refusals {
  readonly #caps: CapsView;

  constructor(caps: CapsView) {
    this.#caps = caps;
  }

  error(
    tenantId: string | undefined,
    code: AdmissionErrorCode,
    details: RefusalDetails = {},
  ): AdmissionError {
    return new AdmissionError(code, this.#message(code, tenantId), {
      tenantId,
      retryAfterMs: details.retryAfterMs,
      cause: details.cause,
      sessionId: details.sessionId,
    });
  }

  /**
   * The caller gave up (its signal aborted) before a session or slot was handed to it: while
   * it waited to be admitted, or, `inSetup`, once admitted, while the session was set up.
   */
  aborted(tenantId: string | undefined, cause: unknown, inSetup = false): AdmissionError {
    if (!inSetup) return this.error(tenantId, 'aborted', { cause });
    return new AdmissionError('aborted', 'the request was aborted during session setup', {
      tenantId,
      cause,
    });
  }

  /** A drain reached its deadline while the holder's work was still under way. */
  drainDeadline(tenantId: string): AdmissionError {
    return new AdmissionError('draining', 'the drain deadline was reached', { tenantId });
  }

  /** The shared store dropped the slot (its lease expired or was lost). */
  leaseLost(tenantId: string): AdmissionError {
    return new AdmissionError('store_unavailable', 'the shared store dropped this slot', {
      tenantId,
    });
  }

  /** The idempotency key is held by a creation for another user, here or on another instance. */
  duplicate(tenantId: string, sessionId: string | undefined, elsewhere: boolean): AdmissionError {
    return new AdmissionError(
      'duplicate',
      elsewhere
        ? 'a session for this idempotency key exists on another instance'
        : 'the idempotency key is held by a session for another user',
      { tenantId, sessionId },
    );
  }

  /** A refusal as a value (`tryAcquire()`), without building an Error. */
  value(
    tenantId: string,
    code: AdmissionErrorCode,
    retryAfterMs: number | undefined,
  ): AdmissionRefusal {
    return { code, tenantId, retryAfterMs };
  }

  #message(code: AdmissionErrorCode, tenantId: string | undefined): string {
    switch (code) {
      case 'capacity':
        return `all ${this.#caps.current} session slots are in use`;
      case 'tenant_capacity': {
        const cap = this.#caps.tenant(tenantId ?? '');
        return cap === 0
          ? `tenant "${tenantId}" may hold no session (its cap is 0)`
          : `tenant "${tenantId}" holds all ${cap} of its session slots`;
      }
      case 'queue_full':
        return 'the admission queue is full';
      case 'queue_timeout':
        return 'no session slot became free within the wait timeout';
      case 'aborted':
        return 'the request was aborted before it was admitted';
      case 'unhealthy':
        return 'the voice backend is unhealthy; not admitting sessions';
      case 'draining':
        return 'admission is draining and accepts no new sessions';
      case 'duplicate':
        return 'the idempotency key is already in use';
      case 'store_unavailable':
        return 'the capacity store could not be reached';
    }
  }
}
