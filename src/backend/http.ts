import type { BackendErrorCode } from '../iface/errors.js';

/**
 * Helpers for providers that talk HTTP to their server. They turn what `fetch` and HTTP
 * answers look like into `BackendErrorCode`s and short, secret-free descriptions.
 */

/** The backend code an HTTP status stands for, when the body says nothing more precise. */
export function codeForHttpStatus(status: number): BackendErrorCode {
  if (status === 401) return 'unauthenticated';
  if (status === 403) return 'permission_denied';
  if (status === 404) return 'not_found';
  if (status === 408) return 'timeout';
  if (status === 409) return 'already_exists';
  if (status === 429) return 'resource_exhausted';
  if (status >= 500) return 'unavailable';
  return 'internal';
}

export interface TransportFailure {
  readonly code: BackendErrorCode;
  /** e.g. `unreachable (ECONNREFUSED)` or `timed out`. */
  readonly detail: string;
}

const UNREACHABLE = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/** What OpenSSL reports when the peer of an https:// request answered in plain text. */
const NOT_TLS = 'ERR_SSL_WRONG_VERSION_NUMBER';

/**
 * Node's codes for a server certificate that failed verification (OpenSSL's verdicts, and a
 * name the certificate does not cover): the handshake failed, so no request was sent.
 */
const UNTRUSTED_CERTIFICATE = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_DECRYPT_CERT_SIGNATURE',
  'UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY',
  'CERT_SIGNATURE_FAILURE',
  'CERT_NOT_YET_VALID',
  'CERT_HAS_EXPIRED',
  'ERROR_IN_CERT_NOT_BEFORE_FIELD',
  'ERROR_IN_CERT_NOT_AFTER_FIELD',
  'CERT_CHAIN_TOO_LONG',
  'CERT_REVOKED',
  'INVALID_CA',
  'PATH_LENGTH_EXCEEDED',
  'INVALID_PURPOSE',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'HOSTNAME_MISMATCH',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/**
 * Recognises the errors `fetch` throws when no HTTP answer came back: a timeout signal firing
 * (`TimeoutError`), an abort (`AbortError`), or a connection failure (`TypeError: fetch failed`
 * with the system error as its cause). Returns `undefined` for anything else.
 */
export function describeTransportFailure(error: unknown): TransportFailure | undefined {
  if (!(error instanceof Error)) return undefined;
  if (error.name === 'TimeoutError') return { code: 'timeout', detail: 'timed out' };
  if (error.name === 'AbortError') return { code: 'aborted', detail: 'was aborted' };
  const systemCode = causeCode(error);
  if (systemCode === NOT_TLS) {
    return {
      code: 'unavailable',
      detail: `did not speak TLS (${NOT_TLS}): is it a plain http:// or ws:// server?`,
    };
  }
  if (systemCode !== undefined && UNTRUSTED_CERTIFICATE.has(systemCode)) {
    return {
      code: 'unavailable',
      detail: `sent a TLS certificate this process does not trust (${systemCode}): trust its CA with NODE_EXTRA_CA_CERTS, or give it a certificate from a trusted CA`,
    };
  }
  if (systemCode !== undefined && UNREACHABLE.has(systemCode)) {
    return { code: 'unavailable', detail: `unreachable (${systemCode})` };
  }
  if (error instanceof TypeError && error.message === 'fetch failed') {
    return {
      code: 'unavailable',
      detail: `unreachable${systemCode === undefined ? '' : ` (${systemCode})`}`,
    };
  }
  return undefined;
}

/** Failures to connect: the request never reached the server, which cannot have acted on it. */
const NOT_CONNECTED = new Set([
  'ECONNREFUSED',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'UND_ERR_CONNECT_TIMEOUT',
  NOT_TLS,
  ...UNTRUSTED_CERTIFICATE,
]);

/**
 * Whether `fetch` threw without an answer after the request may have reached the server (a
 * timeout, a connection lost): the server may still act on it. False for a failure to connect.
 */
export function answerMissing(error: unknown): boolean {
  if (describeTransportFailure(error) === undefined) return false;
  const systemCode = causeCode(error as Error);
  return systemCode === undefined || !NOT_CONNECTED.has(systemCode);
}

/** The first `code` property down the `cause` chain (Node system errors carry one). */
function causeCode(error: Error): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current instanceof Error; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') return code;
    current = current.cause;
  }
  return undefined;
}

/** Thrown by `withTimeout` when the time runs out. */
export class TimeoutError extends Error {
  override readonly name = 'TimeoutError';
}

/**
 * Settles like `promise`, or rejects with a `TimeoutError` after `timeoutMs`, or with the
 * signal's reason when it aborts first. For calls that cannot be cancelled themselves: the
 * underlying work goes on, only the wait for it ends.
 */
export function withTimeout<T>(
  promise: Promise<T>,
  timeoutMs: number,
  signal?: AbortSignal,
  message = `did not answer within ${timeoutMs} ms`,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    const finish = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    };
    const onAbort = (): void => {
      finish();
      reject(signal?.reason);
    };
    // Handled even when given up on at once: a later rejection would be nobody's otherwise.
    promise.then(
      (value) => {
        finish();
        resolve(value);
      },
      (error: unknown) => {
        finish();
        reject(error);
      },
    );
    if (signal?.aborted) {
      onAbort();
      return;
    }
    timer = setTimeout(() => {
      finish();
      reject(new TimeoutError(message));
    }, timeoutMs);
    timer.unref();
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
