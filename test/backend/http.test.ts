import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import {
  answerMissing,
  codeForHttpStatus,
  describeTransportFailure,
  TimeoutError,
  withTimeout,
} from '../../src/backend/http.js';
import { PeriodicTask } from '../../src/backend/periodic-task.js';
import { REDACTED, redact } from '../../src/backend/redact.js';
import { watchUnhandledRejections } from '../support/unhandled-rejections.js';

describe('HTTP helpers for providers', () => {
  it('maps HTTP statuses onto backend codes', () => {
    expect([401, 403, 404, 408, 409, 429, 500, 503, 400].map(codeForHttpStatus)).toEqual([
      'unauthenticated',
      'permission_denied',
      'not_found',
      'timeout',
      'already_exists',
      'resource_exhausted',
      'unavailable',
      'unavailable',
      'internal',
    ]);
  });

  it('recognises what fetch throws when no answer came back', async () => {
    // A port that was just free: nothing listens there.
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    await new Promise((resolve) => server.close(resolve));
    const refused = await fetch(`http://127.0.0.1:${port}/`).catch((e: unknown) => e);
    expect(describeTransportFailure(refused)).toEqual({
      code: 'unavailable',
      detail: 'unreachable (ECONNREFUSED)',
    });
    // A server that accepts connections and never answers.
    const silent = createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const silentPort = (silent.address() as { port: number }).port;
    const timedOut = await fetch(`http://127.0.0.1:${silentPort}/`, {
      signal: AbortSignal.timeout(20),
    }).catch((e: unknown) => e);
    silent.close();
    expect(describeTransportFailure(timedOut)).toEqual({ code: 'timeout', detail: 'timed out' });
    expect(describeTransportFailure(new Error('something else'))).toBeUndefined();
    // Refused: the request never reached a server. Timed out: the server may still act on it.
    expect(answerMissing(refused)).toBe(false);
    expect(answerMissing(timedOut)).toBe(true);
    expect(answerMissing(new Error('something else'))).toBe(false);
  });

  it('withTimeout settles with the promise, a TimeoutError, or the abort reason', async () => {
    await expect(withTimeout(Promise.resolve(1), 1_000)).resolves.toBe(1);
    await expect(withTimeout(new Promise(() => {}), 10)).rejects.toBeInstanceOf(TimeoutError);
    const controller = new AbortController();
    const pending = withTimeout(new Promise(() => {}), 10_000, controller.signal);
    controller.abort(new Error('stop'));
    await expect(pending).rejects.toThrow('stop');
  });

  it('withTimeout given an aborted signal still handles the promise it gave up on', async () => {
    const unhandled = watchUnhandledRejections();
    let fail!: (error: Error) => void;
    const work = new Promise<never>((_, reject) => {
      fail = reject;
    });
    const gone = new Error('caller gone');
    await expect(withTimeout(work, 1_000, AbortSignal.abort(gone))).rejects.toBe(gone);
    fail(new Error('the work failed later'));
    await new Promise((resolve) => setImmediate(resolve));
    unhandled.stop();
    expect(unhandled.reasons).toEqual([]);
  });

  it('redacts secrets and anything shaped like a JWT', () => {
    const jwt = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl';
    expect(
      redact(`GET /rtc?access_token=${jwt} with long-secret-value`, ['long-secret-value']),
    ).toBe(`GET /rtc?access_token=${REDACTED} with ${REDACTED}`);
    expect(redact('dial redis://app:p@ss/w0rd@10.1.2.3:6379 and wss://host/x failed')).toBe(
      `dial redis://${REDACTED}@10.1.2.3:6379 and wss://host/x failed`,
    );
    // Short strings are not treated as secrets: they would redact ordinary words.
    expect(redact('a b c', ['b'])).toBe('a b c');
  });

  it('PeriodicTask joins a run under way instead of starting another', async () => {
    let runs = 0;
    let release!: () => void;
    const task = new PeriodicTask(
      () => {
        runs++;
        return new Promise<number>((resolve) => {
          release = () => resolve(runs);
        });
      },
      () => {},
    );
    const first = task.runNow();
    const second = task.runNow();
    release();
    expect(await first).toBe(1);
    expect(await second).toBe(1);
    expect(runs).toBe(1);
  });
});
