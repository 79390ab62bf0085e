import { answerMissing, codeForHttpStatus, describeTransportFailure } from '../../backend/http.js';
import { redact } from '../../backend/redact.js';
import { BackendError, type BackendErrorCode, type BackendOperation } from '../../iface/errors.js';
import { messageOf } from '../../internal/thrown.js';

export const PROVIDER = 'livekit';

/** Appended where the answer shows another HTTP service answers at the configured url. */
export const IS_IT_LIVEKIT = 'is url a LiveKit server?';

/** Twirp error codes (as LiveKit's server sends them) mapped onto backend codes. */
const TWIRP_CODES: Readonly<Record<string, BackendErrorCode>> = {
  unauthenticated: 'unauthenticated',
  permission_denied: 'permission_denied',
  not_found: 'not_found',
  bad_route: 'not_found',
  already_exists: 'already_exists',
  resource_exhausted: 'resource_exhausted',
  unavailable: 'unavailable',
  internal: 'unavailable',
  unknown: 'unavailable',
  dataloss: 'unavailable',
  deadline_exceeded: 'timeout',
  canceled: 'timeout',
  // The server refused the request's content (e.g. metadata over its size limit).
  invalid_argument: 'setup_failed',
  malformed: 'setup_failed',
  failed_precondition: 'setup_failed',
  out_of_range: 'setup_failed',
};

/** The shape of livekit-server-sdk's `ServerError` (a Twirp answer that was not 2xx). */
interface ServerErrorLike extends Error {
  readonly status: number;
  readonly code?: string | undefined;
}

function isServerError(error: unknown): error is ServerErrorLike {
  return error instanceof Error && typeof (error as { status?: unknown }).status === 'number';
}

/**
 * A server's refusal as the cause of a `BackendError`: status, Twirp code and the server's
 * words with secrets and tokens removed. The SDK's own error is not kept: the server's 401
 * body quotes the rejected token, signed with our secret.
 */
export class ServerAnswer extends Error {
  override readonly name = 'ServerAnswer';

  constructor(
    message: string,
    readonly status: number,
    readonly code: string | undefined,
  ) {
    super(message);
  }
}

/** Status and Twirp code of a server answer, when `error` is one. */
export function serverAnswer(
  error: unknown,
): { status: number; code: string | undefined } | undefined {
  return isServerError(error) ? { status: error.status, code: error.code } : undefined;
}

/**
 * Turns whatever a livekit-server-sdk call threw into a `BackendError` whose code says what
 * happened and whose message names the call, never a secret. `secrets` are scrubbed from the
 * server's own words, which are quoted.
 */
export function toBackendError(
  error: unknown,
  op: BackendOperation,
  call: string,
  secrets: readonly string[],
): BackendError {
  if (error instanceof BackendError) return error;
  if (error instanceof SyntaxError) {
    // A 2xx whose body is not JSON: the SDK's parse of a page some other service served. Its
    // message quotes that page, so it is not kept.
    return notLiveKit(op, `${call} failed: not a LiveKit answer`);
  }
  if (isServerError(error)) {
    const said = redact(error.message, secrets);
    if (error.status === 404 && error.code === undefined) {
      // LiveKit answers an unknown route with a Twirp error; a bare 404 (often an HTML page,
      // noise if quoted) comes from something else.
      const cause = new ServerAnswer(said, error.status, error.code);
      return notLiveKit(op, `${call} failed: 404: not a LiveKit answer`, cause);
    }
    const code =
      (error.code === undefined ? undefined : TWIRP_CODES[error.code]) ??
      codeForHttpStatus(error.status);
    const twirp = error.code === undefined ? '' : ` ${error.code}`;
    return new BackendError(
      code,
      op,
      `LiveKit ${call} failed: ${error.status}${twirp}: ${said.slice(0, 200)}`,
      { provider: PROVIDER, cause: new ServerAnswer(said, error.status, error.code) },
    );
  }
  const transport = describeTransportFailure(error);
  if (transport !== undefined) {
    return new BackendError(
      transport.code,
      op,
      `LiveKit ${call} failed: server ${transport.detail}`,
      {
        provider: PROVIDER,
        cause: error,
      },
    );
  }
  const message = messageOf(error);
  return new BackendError('internal', op, `LiveKit ${call} failed: ${redact(message, secrets)}`, {
    provider: PROVIDER,
    cause: error,
  });
}

/** Another HTTP service answered at the configured url. */
function notLiveKit(op: BackendOperation, what: string, cause?: ServerAnswer): BackendError {
  return new BackendError('unavailable', op, `LiveKit ${what}, ${IS_IT_LIVEKIT}`, {
    provider: PROVIDER,
    cause,
  });
}

/** The server answered 4xx (other than a timeout): it refused the call, so nothing was done. */
export function refusedByServer(error: unknown): boolean {
  const answer = serverAnswer(error instanceof BackendError ? error.cause : error);
  return (
    answer !== undefined && answer.status >= 400 && answer.status < 500 && answer.status !== 408
  );
}

/**
 * No answer came from the server after the request may have reached it: it may act on it
 * still. A proxy's 502 or 504 (no Twirp code: not the server's own words) is no answer either.
 */
export function unanswered(error: unknown): boolean {
  const cause = error instanceof BackendError ? error.cause : error;
  const answer = serverAnswer(cause);
  if (answer === undefined) return answerMissing(cause);
  return (answer.status === 502 || answer.status === 504) && answer.code === undefined;
}
