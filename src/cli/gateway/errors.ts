import type { Socket } from 'node:net';
import { type HttpError, toHttpError } from '../../http/http-error.js';
import { HttpRefusal } from './auth.js';

/** What Fastify's own 4xx errors become. */
const FRAMEWORK_CODES: Readonly<Record<number, string>> = {
  400: 'bad_request',
  404: 'not_found',
  413: 'payload_too_large',
  414: 'uri_too_long',
  415: 'unsupported_media_type',
};

/** The 415 answer to a body that is not JSON, whoever refuses it. */
export const NOT_JSON_MESSAGE = 'the body must be JSON, sent with Content-Type: application/json';

/**
 * Fixed messages for Fastify's errors whose own message quotes the request's path (a client
 * may put anything there, escape sequences included, and errors never echo values) or does
 * not say what to send instead.
 */
const FIXED_MESSAGES: Readonly<Record<string, string>> = {
  FST_ERR_BAD_URL: 'the path is not valid percent-encoded UTF-8',
  FST_ERR_MAX_PARAM_LENGTH: 'the path is too long: ids are at most 256 characters',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: NOT_JSON_MESSAGE,
};

/**
 * The gateway's answer for any error a route may throw: the library's mapping, plus the
 * gateway's own refusals (authentication) and the framework's request errors.
 */
export function toGatewayHttpError(error: unknown): HttpError {
  if (error instanceof HttpRefusal) {
    return {
      status: error.status,
      headers: error.status === 401 ? { 'www-authenticate': 'Bearer' } : {},
      body: { error: { code: error.code, message: error.message } },
    };
  }
  return frameworkError(error) ?? toHttpError(error);
}

/** Fastify's request errors (validation, body parsing, sizes): 4xx with their own message. */
function frameworkError(error: unknown): HttpError | undefined {
  if (!(error instanceof Error)) return undefined;
  const { statusCode } = error as { statusCode?: unknown };
  if (typeof statusCode !== 'number' || statusCode < 400 || statusCode >= 500) return undefined;
  const code = FRAMEWORK_CODES[statusCode] ?? 'bad_request';
  return { status: statusCode, headers: {}, body: { error: { code, message: messageOf(error) } } };
}

/** The framework's message, without the request's own text (Fastify quotes a bad path). */
function messageOf(error: Error & { code?: unknown; validation?: unknown }): string {
  const fixed = typeof error.code === 'string' ? FIXED_MESSAGES[error.code] : undefined;
  if (fixed !== undefined) return fixed;
  return error.validation === undefined
    ? error.message
    : error.message.replace(/^(body|params)\//, '$1.');
}

/** Node's errors for requests that never reached routing, and what the client is told. */
const CLIENT_ERRORS: Readonly<Record<string, readonly [number, string, string, string]>> = {
  ERR_HTTP_REQUEST_TIMEOUT: [
    408,
    'Request Timeout',
    'request_timeout',
    'the request was not received in time',
  ],
  HPE_HEADER_OVERFLOW: [
    431,
    'Request Header Fields Too Large',
    'headers_too_large',
    'the request headers are too large',
  ],
};
const MALFORMED = [400, 'Bad Request', 'bad_request', 'the request is not valid HTTP'] as const;

/**
 * Answers a request Node could not parse or did not receive in time with the API's error
 * body, then closes the connection (the server's `clientError` handler).
 */
export function answerClientError(error: Error & { code?: string }, socket: Socket): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, reason, code, message] = CLIENT_ERRORS[error.code ?? ''] ?? MALFORMED;
  const body = JSON.stringify({ error: { code, message } });
  if (socket.writable) {
    socket.write(
      `HTTP/1.1 ${status} ${reason}\r\nConnection: close\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}
