import { AdmissionError, type AdmissionErrorCode, BackendError } from '../../iface/errors.js';
import { HttpRefusal } from './auth.js';

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
 * (`Retry-After` says when). 503: this instance cannot admit anyone now (unhealthy, draining,
 * store down): retry, possibly elsewhere. 409: the idempotency key is taken. 499 (the client
 * went away) is never seen by a client; it is what the access log records.
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

/** What Fastify's own 4xx errors become. */
const FRAMEWORK_CODES: Readonly<Record<number, string>> = {
  400: 'bad_request',
  404: 'not_found',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
};

/** The HTTP answer for any error a route may throw; unknown errors are a bare 500. */
export function toHttpError(error: unknown): HttpError {
  if (error instanceof AdmissionError) {
    const status = STATUS[error.code];
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
  if (error instanceof HttpRefusal) {
    return {
      status: error.status,
      headers: error.status === 401 ? { 'www-authenticate': 'Bearer' } : {},
      body: { error: { code: error.code, message: error.message } },
    };
  }
  if (error instanceof BackendError) {
    const status = error.code === 'timeout' ? 504 : error.code === 'stopped' ? 503 : 502;
    return {
      status,
      headers: retryAfter(status, undefined),
      body: { error: { code: error.code, message: error.message } },
    };
  }
  const framework = frameworkError(error);
  if (framework !== undefined) return framework;
  return {
    status: 500,
    headers: {},
    body: { error: { code: 'internal', message: 'internal error' } },
  };
}

/** Fastify's request errors (validation, body parsing, sizes): 4xx with their own message. */
function frameworkError(error: unknown): HttpError | undefined {
  if (!(error instanceof Error)) return undefined;
  const { statusCode, validation } = error as { statusCode?: unknown; validation?: unknown };
  if (typeof statusCode !== 'number' || statusCode < 400 || statusCode >= 500) return undefined;
  const code = FRAMEWORK_CODES[statusCode] ?? 'bad_request';
  const message =
    validation === undefined ? error.message : error.message.replace(/^(body|params)\//, '$1.');
  return { status: statusCode, headers: {}, body: { error: { code, message } } };
}

/** 429 and 503 always say when to retry: the admission's estimate, or one second. */
function retryAfter(status: number, retryAfterMs: number | undefined): Record<string, string> {
  if (status !== 429 && status !== 503) return {};
  return { 'retry-after': String(Math.max(1, Math.ceil((retryAfterMs ?? 1_000) / 1_000))) };
}
