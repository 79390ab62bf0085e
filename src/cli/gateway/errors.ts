import {
  AdmissionError,
  type AdmissionErrorCode,
  BackendError,
  ConfigError,
} from '../../iface/errors.js';
import { BadRequest } from './http-json.js';

export interface HttpError {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: { readonly error: Record<string, unknown> };
}

/**
 * How each refusal reaches an HTTP caller. 429: this service is at a limit, retry later
 * (`Retry-After` says when). 503: this instance cannot admit anyone now (unhealthy, draining,
 * store down): retry, possibly elsewhere. 409: the idempotency key is taken.
 */
const STATUS: Record<AdmissionErrorCode, number> = {
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

export function toHttpError(error: unknown): HttpError {
  if (error instanceof AdmissionError) {
    const headers: Record<string, string> =
      error.retryAfterMs === undefined
        ? {}
        : { 'retry-after': String(Math.max(1, Math.ceil(error.retryAfterMs / 1000))) };
    return {
      status: STATUS[error.code],
      headers,
      body: {
        error: {
          code: error.code,
          message: error.message,
          ...(error.retryAfterMs === undefined ? {} : { retryAfterMs: error.retryAfterMs }),
          ...(error.tenantId === undefined ? {} : { tenantId: error.tenantId }),
          ...(error.sessionId === undefined ? {} : { sessionId: error.sessionId }),
        },
      },
    };
  }
  if (error instanceof BadRequest || error instanceof ConfigError) {
    return {
      status: 400,
      headers: {},
      body: { error: { code: 'bad_request', message: error.message } },
    };
  }
  if (error instanceof BackendError) {
    const status = error.code === 'timeout' ? 504 : error.code === 'stopped' ? 503 : 502;
    return { status, headers: {}, body: { error: { code: error.code, message: error.message } } };
  }
  return {
    status: 500,
    headers: {},
    body: { error: { code: 'internal', message: 'internal error' } },
  };
}
