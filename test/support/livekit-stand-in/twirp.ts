import type { ServerResponse } from 'node:http';

/** Twirp error codes and the HTTP statuses Twirp sends them with (twirp.ServerHTTPStatusFromErrorCode). */
export const TWIRP_STATUS = {
  canceled: 408,
  unknown: 500,
  invalid_argument: 400,
  malformed: 400,
  deadline_exceeded: 408,
  not_found: 404,
  bad_route: 404,
  already_exists: 409,
  permission_denied: 403,
  unauthenticated: 401,
  resource_exhausted: 429,
  failed_precondition: 412,
  aborted: 409,
  out_of_range: 400,
  unimplemented: 501,
  internal: 500,
  unavailable: 503,
  dataloss: 500,
} as const;

export type TwirpCode = keyof typeof TWIRP_STATUS;

/** A Twirp error, as a handler throws it. */
export class TwirpError extends Error {
  readonly code: TwirpCode;
  readonly meta: Readonly<Record<string, string>> | undefined;

  constructor(code: TwirpCode, msg: string, meta?: Record<string, string>) {
    super(msg);
    this.code = code;
    this.meta = meta;
  }
}

/** Writes the error as Twirp does: always JSON, `{code, msg, meta?}`, status from the code. */
export function writeTwirpError(res: ServerResponse, error: TwirpError): void {
  const body = JSON.stringify({
    code: error.code,
    msg: error.message,
    ...(error.meta === undefined ? {} : { meta: error.meta }),
  });
  res.writeHead(TWIRP_STATUS[error.code], {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(body),
  });
  res.end(body);
}

export function badRoute(msg: string, method: string, path: string): TwirpError {
  return new TwirpError('bad_route', msg, { twirp_invalid_route: `${method} ${path}` });
}

/** Writes a plain-text error, as the server's HTTP middleware (auth) does before Twirp runs. */
export function writeTextError(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8' });
  res.end(text);
}
