import { redact } from '../../backend/redact.js';

/** An `Authorization` header's credentials quoted in a message: the scheme stays. */
const CREDENTIALS = /\b(Bearer|Basic)(\s+)[^\s"',;]+/gi;

/**
 * Removes from `text` what `redact` removes (the given secrets, JWTs, URL credentials) and the
 * credentials of a quoted `Authorization` header: the gateway's bearer tokens are kept as
 * digests only, so they cannot be listed as secrets.
 */
export function redactForLog(text: string, secrets: readonly string[]): string {
  return redact(text, secrets).replace(CREDENTIALS, '$1$2[redacted]');
}

interface ErrorLike {
  readonly message: string;
  readonly stack?: unknown;
  readonly cause?: unknown;
  readonly errors?: unknown;
  readonly name?: unknown;
}

function isErrorLike(value: unknown): value is ErrorLike {
  return (
    value !== null &&
    typeof value === 'object' &&
    typeof (value as { message?: unknown }).message === 'string'
  );
}

/** An error as a log line holds it (pino's shape). */
export interface SerializedError {
  type: string;
  message: string;
  stack: string;
  [key: string]: unknown;
}

/** Causes followed at most this deep (a chain can be circular, or very long). */
const MAX_CAUSES = 10;

/** `error`'s causes, itself first, each once. */
function chainOf(error: ErrorLike): ErrorLike[] {
  const chain = [error];
  let cause = error.cause;
  while (isErrorLike(cause) && !chain.includes(cause) && chain.length <= MAX_CAUSES) {
    chain.push(cause);
    cause = cause.cause;
  }
  return chain;
}

/**
 * pino's error serializer (message and stack with each cause's appended, `type`, the other
 * enumerable properties, an AggregateError's errors) with every string passed through
 * `redactForLog`. Errors keep the raw error they wrap as their `cause` (a BackendError keeps
 * what the client library threw), whose message can quote the request it failed: a URL with
 * credentials, an access token, an `Authorization` header.
 */
export function redactingErrorSerializer(
  secrets: readonly string[],
): (error: unknown) => SerializedError {
  const scrub = (value: unknown, depth: number): unknown => {
    if (typeof value === 'string') return redactForLog(value, secrets);
    if (value === null || typeof value !== 'object' || depth > 3) return value;
    if (isErrorLike(value)) return serialize(value, depth + 1);
    if (Array.isArray(value)) return value.map((item) => scrub(item, depth + 1));
    if (Object.getPrototypeOf(value) !== Object.prototype) return value;
    return Object.fromEntries(
      Object.entries(value).map(([key, item]) => [key, scrub(item, depth + 1)]),
    );
  };
  const serialize = (error: ErrorLike, depth: number): SerializedError => {
    const chain = chainOf(error);
    const constructorName = (error as { constructor?: { name?: unknown } }).constructor?.name;
    const out: SerializedError = {
      type: typeof constructorName === 'string' ? constructorName : String(error.name),
      message: redactForLog(chain.map((e) => e.message).join(': '), secrets),
      stack: redactForLog(
        chain.map((e) => (typeof e.stack === 'string' ? e.stack : '')).join('\ncaused by: '),
        secrets,
      ),
    };
    if (Array.isArray(error.errors)) out.aggregateErrors = scrub(error.errors, depth);
    for (const key in error) {
      if (key === 'cause' && isErrorLike(error.cause)) continue;
      const value = (error as unknown as Record<string, unknown>)[key];
      if (out[key] === undefined) out[key] = scrub(value, depth);
    }
    return out;
  };
  // pino hands over whatever was logged as `err`: anything else is kept, its strings redacted.
  return (error) =>
    isErrorLike(error) ? serialize(error, 0) : (scrub(error, 0) as SerializedError);
}
