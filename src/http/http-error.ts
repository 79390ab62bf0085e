import {
  AdmissionError,
  type AdmissionErrorCode,
  BackendError,
  ConfigError,
} from '../iface/errors.js';

/** An error as an HTTP answer: status, headers (`Retry-After`) and a JSON body. */
export interface HttpError {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: {
    readonly error: {
      readonly code: string;
      readonly message: string;
      readonly retryAfterMs?: number;
      readonly tenantId?: string;
    };
  };
}

/**
 * How each refusal reaches an HTTP caller. 429: this service is at a limit, retry later
 * (`Retry-After` says when; without it, a tenant capped at 0: no retry helps). 503: this
 * instance cannot admit anyone now (unhealthy, draining, store down): retry, possibly
 * elsewhere. 409: the idempotency key is taken. 499 (the client went away) is never seen by a
 * client; it is what an access log records.
 */
const ADMISSION_STATUS: Record<AdmissionErrorCode, number> = {
  capacity: 429,
  tenant_capacity: 429,
  queue_full: 429,
  queue_timeout: 429,
  duplicate: 409,
  unhealthy: 503,
  draining: 503,
  store_unavailable: 503,
  aborted: 499,
};

/**
 * The HTTP answer for an error of this library: `AdmissionError` by its code, `BackendError`
 * 504 (timeout), 503 (stopped) or 502 naming its code and operation (log the error itself: its
 * message is not in the answer), `ConfigError` (a bad request) 400 naming the field; anything
 * else a bare 500 that discloses nothing.
 * The gateway answers with it, and so can any HTTP service embedding an admission.
 */
export function toHttpError(error: unknown): HttpError {
  if (error instanceof AdmissionError) {
    const status = ADMISSION_STATUS[error.code];
    return {
      status,
      headers: retryAfter(status, error.retryAfterMs),
      body: {
        error: {
          code: error.code,
          // A duplicate's holder (its session id) is not disclosed: it is someone else's.
          message: error.code === 'duplicate' ? 'the idempotency key is held' : error.message,
          ...(error.retryAfterMs === undefined ? {} : { retryAfterMs: error.retryAfterMs }),
          ...(error.tenantId === undefined ? {} : { tenantId: error.tenantId }),
        },
      },
    };
  }
  if (error instanceof BackendError) {
    const status = error.code === 'timeout' ? 504 : error.code === 'stopped' ? 503 : 502;
    // The code and operation only: the message quotes what the provider or the system said
    // (addresses, file paths, the server's own words), which is for the operator's logs.
    return {
      status,
      headers: retryAfter(status, undefined),
      body: { error: { code: error.code, message: `the voice backend failed (${error.op})` } },
    };
  }
  if (error instanceof ConfigError) {
    // The field only: the message quotes the value, which is the caller's own text.
    return {
      status: 400,
      headers: {},
      body: { error: { code: 'bad_request', message: `invalid ${error.field}` } },
    };
  }
  return {
    status: 500,
    headers: {},
    body: { error: { code: 'internal', message: 'internal error' } },
  };
}

/**
 * When to retry: a 429 says it when the admission estimated it (a tenant capped at 0 has no
 * estimate: no wait helps, so nothing invites a retry); a 503 always, one second by default.
 */
function retryAfter(status: number, retryAfterMs: number | undefined): Record<string, string> {
  if (status !== 503 && (status !== 429 || retryAfterMs === undefined)) return {};
  return { 'retry-after': String(Math.max(1, Math.ceil((retryAfterMs ?? 1_000) / 1_000))) };
}
