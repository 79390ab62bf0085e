import { ServerError } from 'livekit-server-sdk';
import { describe, expect, it } from 'vitest';
import {
  refusedByServer,
  toBackendError,
  unanswered,
} from '../../../src/providers/livekit/errors.js';

const secret = 'a-very-secret-value';

describe('LiveKit errors -> BackendError', () => {
  it.each([
    [401, 'unauthenticated', 'unauthenticated'],
    [401, undefined, 'unauthenticated'], // the auth middleware answers in plain text
    [403, 'permission_denied', 'permission_denied'],
    [404, 'not_found', 'not_found'],
    [404, 'bad_route', 'not_found'],
    [409, 'already_exists', 'already_exists'],
    [429, 'resource_exhausted', 'resource_exhausted'],
    [500, 'internal', 'unavailable'],
    [503, 'unavailable', 'unavailable'],
    [502, undefined, 'unavailable'], // a proxy in front of the server
    [408, 'deadline_exceeded', 'timeout'],
    [400, 'invalid_argument', 'setup_failed'],
  ])('%i %s -> %s', (status, code, expected) => {
    const error = toBackendError(
      new ServerError('x', 'server said no', status, code),
      'create_session',
      'CreateRoom',
      [secret],
    );
    expect(error).toMatchObject({ code: expected, op: 'create_session', provider: 'livekit' });
    expect(error.message).toBe(
      `LiveKit CreateRoom failed: ${status}${code === undefined ? '' : ` ${code}`}: server said no`,
    );
  });

  it('scrubs secrets and tokens the server might echo', () => {
    const token = 'eyJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJrIn0.c2lnbmF0dXJlLWJ5dGVz';
    const error = toBackendError(
      new ServerError('x', `bad token ${token} for ${secret}`, 401, undefined),
      'create_session',
      'CreateRoom',
      [secret],
    );
    expect(error.message).toBe(
      'LiveKit CreateRoom failed: 401: bad token [redacted] for [redacted]',
    );
  });

  it('tells a refusal (nothing was done) from an answer that leaves the outcome open', () => {
    const answer = (status: number) =>
      toBackendError(new ServerError('x', 'm', status), 'create_session', 'CreateRoom', []);
    expect(refusedByServer(answer(401))).toBe(true);
    expect(refusedByServer(answer(429))).toBe(true);
    expect(refusedByServer(answer(408))).toBe(false);
    expect(refusedByServer(answer(500))).toBe(false);
    expect(refusedByServer(new TypeError('fetch failed'))).toBe(false);
  });

  it("takes a proxy's 502 or 504 for no answer from the server behind it, which may still act", () => {
    const answer = (status: number, code?: string) =>
      toBackendError(new ServerError('x', 'm', status, code), 'create_session', 'CreateRoom', []);
    expect(unanswered(answer(504))).toBe(true);
    expect(unanswered(answer(502))).toBe(true);
    // The server's own answers: it acted or refused, and will not act later.
    expect(unanswered(answer(500, 'internal'))).toBe(false);
    expect(unanswered(answer(503, 'unavailable'))).toBe(false);
    expect(unanswered(answer(401))).toBe(false);
  });
});
