/**
 * Typed errors. Every error this package throws carries a machine-readable `code`;
 * nothing throws strings. Messages never contain secrets (API secrets, tokens).
 */

/** Why an admission was refused. */
export type AdmissionErrorCode =
  /** The global `maxConcurrentSessions` is reached and the request could not wait. */
  | 'capacity'
  /** The tenant's cap is reached and the request could not wait. */
  | 'tenant_capacity'
  /** The wait queue (or the tenant's share of it) is full. */
  | 'queue_full'
  /** The request waited `timeoutMs` without getting a slot. */
  | 'queue_timeout'
  /** The caller's `AbortSignal` fired. */
  | 'aborted'
  /** The backend's last health check failed. */
  | 'unhealthy'
  /** The admission is draining or drained: it admits nothing new. */
  | 'draining'
  /** The idempotency key is held by another caller or instance. */
  | 'duplicate'
  /** The shared capacity store (e.g. Redis) could not be reached in time. */
  | 'store_unavailable';

export interface AdmissionErrorOptions {
  /** When a retry has a chance to succeed, how long to wait first. */
  readonly retryAfterMs?: number | undefined;
  readonly tenantId?: string | undefined;
  /** For `duplicate`: the id of the session that holds the key, when known. */
  readonly sessionId?: string | undefined;
  readonly cause?: unknown;
}

/**
 * Codes refused on the hot path, where a stack trace is never useful (the refusal is a
 * decision, not a bug) and capturing one would cost more than the decision itself.
 */
const STACKLESS: ReadonlySet<AdmissionErrorCode> = new Set([
  'capacity',
  'tenant_capacity',
  'queue_full',
  'unhealthy',
  'draining',
]);

/** A request was not admitted. `code` says why; `retryAfterMs` says when retrying can help. */
export class AdmissionError extends Error {
  override readonly name = 'AdmissionError';
  readonly code: AdmissionErrorCode;
  readonly retryAfterMs: number | undefined;
  readonly tenantId: string | undefined;
  readonly sessionId: string | undefined;

  constructor(code: AdmissionErrorCode, message: string, options: AdmissionErrorOptions = {}) {
    const stackless = STACKLESS.has(code);
    const limit = Error.stackTraceLimit;
    if (stackless) Error.stackTraceLimit = 0;
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    if (stackless) Error.stackTraceLimit = limit;
    this.code = code;
    this.retryAfterMs = options.retryAfterMs;
    this.tenantId = options.tenantId;
    this.sessionId = options.sessionId;
  }

  /** True when a later retry of the same request can succeed. */
  get retryable(): boolean {
    return this.retryAfterMs !== undefined;
  }
}

/** What went wrong in a backend. Provider errors are mapped onto these codes. */
export type BackendErrorCode =
  /** `createBackend()` was given a name no provider is registered under. */
  | 'provider_not_found'
  /** The backend is not started, or was stopped. */
  | 'not_started'
  | 'stopped'
  /** The provider refused our credentials. */
  | 'unauthenticated'
  | 'permission_denied'
  | 'not_found'
  | 'already_exists'
  /** The provider is out of capacity (e.g. HTTP 429). */
  | 'resource_exhausted'
  /** The provider could not be reached or answered 5xx. */
  | 'unavailable'
  | 'timeout'
  | 'aborted'
  /** Session setup failed inside the provider. */
  | 'setup_failed'
  | 'internal';

export type BackendOperation =
  | 'create_backend'
  | 'start'
  | 'stop'
  | 'create_session'
  | 'close_session'
  | 'health_check'
  | 'webhook'
  | 'reconcile';

export interface BackendErrorOptions {
  readonly provider?: string | undefined;
  readonly cause?: unknown;
}

/** A backend operation failed. `op` says which operation; `cause` keeps the original error. */
export class BackendError extends Error {
  override readonly name = 'BackendError';
  readonly code: BackendErrorCode;
  readonly op: BackendOperation;
  readonly provider: string | undefined;

  constructor(
    code: BackendErrorCode,
    op: BackendOperation,
    message: string,
    options: BackendErrorOptions = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.op = op;
    this.provider = options.provider;
  }
}

/**
 * Options or a session config are invalid. Thrown synchronously at construction (or before
 * any I/O for a session config); the message names the field and the bad value.
 */
export class ConfigError extends TypeError {
  override readonly name = 'ConfigError';
  readonly code = 'invalid_config' as const;
  readonly field: string;

  constructor(field: string, message: string) {
    super(`${field}: ${message}`);
    this.field = field;
  }
}
