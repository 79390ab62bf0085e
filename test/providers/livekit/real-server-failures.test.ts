import { setTimeout as sleep } from 'node:timers/promises';
import { inspect } from 'node:util';
import { expect, it } from 'vitest';
import { Admission } from '../../../src/admission/admission.js';
import { AdmissionError, BackendError } from '../../../src/iface/errors.js';
import { describeWithLiveKitServer } from '../../support/livekit-server.js';
import { onCleanup } from './fixture.js';
import { realBackend, startRealServer } from './real-fixture.js';

/** Three base64url segments starting like a JWT header, or any long run of base64url. */
const TOKEN_FRAGMENT = /eyJ[A-Za-z0-9_-]{10,}|[A-Za-z0-9_-]{40,}/;

describeWithLiveKitServer('LiveKit provider on the real server: failures', () => {
  it('bad credentials: the create fails unauthenticated with no token fragment anywhere in the error, the slot is free, health says why', async () => {
    const real = await startRealServer();
    const wrongSecret = `wrong-${'s'.repeat(40)}`;
    const backend = await realBackend(real, { apiSecret: wrongSecret });
    const admission = new Admission(backend, { maxConcurrentSessions: 1, health: false });

    const error = await admission.createSession({ userId: 'u' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BackendError);
    expect(error).toMatchObject({ code: 'unauthenticated', op: 'create_session' });
    // The server's 401 body quotes the rejected token; it must not travel on, even in causes.
    const everything = `${inspect(error, { depth: 10 })} ${JSON.stringify(error)}`;
    expect(everything).toContain('invalid token: [redacted]');
    expect(everything).not.toMatch(TOKEN_FRAGMENT);
    expect(everything).not.toContain(wrongSecret);
    expect(admission.active).toBe(0);

    const health = await backend.healthCheck();
    expect(health).toMatchObject({ healthy: false, status: 'unhealthy' });
    expect(health.reason).toMatch(/ListRooms refused our credentials/);
    expect(health.reason).not.toMatch(TOKEN_FRAGMENT);
  });

  it('a wss:// url for a plain server: the create and health say it did not speak TLS', async () => {
    const real = await startRealServer();
    const backend = await realBackend(real, { url: real.wsUrl.replace('ws:', 'wss:') });

    const error = await backend.createSession({ userId: 'u' }).catch((e: unknown) => e);
    const plain =
      'did not speak TLS (ERR_SSL_WRONG_VERSION_NUMBER): is it a plain http:// or ws:// server?';
    expect(error).toMatchObject({
      code: 'unavailable',
      message: `LiveKit CreateRoom failed: server ${plain}`,
    });
    const health = await backend.healthCheck();
    expect(health).toMatchObject({ healthy: false, status: 'unhealthy' });
    expect(health.reason).toContain(`GET / failed: server ${plain}`);
  });

  it('the server stopped: the health gate closes and refuses without I/O; restarted: it reopens, and reconciliation ends the sessions it lost', async () => {
    const real = await startRealServer();
    const backend = await realBackend(real, { reconcile: { intervalMs: 60_000 } });
    const admission = new Admission(backend, {
      maxConcurrentSessions: 2,
      health: { intervalMs: 60_000, timeoutMs: 2_000 },
    });
    const before = await admission.createSession({ userId: 'before' });

    await real.server.kill();
    expect(await admission.checkHealth()).toMatchObject({ healthy: false });
    const refused = await admission.createSession({ userId: 'during' }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(AdmissionError);
    expect(refused).toMatchObject({ code: 'unhealthy' });

    await real.server.restart();
    expect(await admission.checkHealth()).toMatchObject({ healthy: true });
    // The restarted node has no rooms: the session whose room it lost is ended.
    const report = await backend.reconcile();
    expect(report.ended).toEqual([before.id]);
    expect((await before.closed).reason).toBe('remote_ended');

    const after = await admission.createSession({ userId: 'after' });
    expect(await real.roomNames()).toEqual([after.connection.roomName]);
    await after.close();
    expect(admission.active).toBe(0);
  });

  it('the server paused with a CreateRoom sent: the create keeps its slot until the room it creates on resuming is deleted', async () => {
    const real = await startRealServer();
    onCleanup(() => real.server.resume());
    const requestTimeoutMs = 300;
    const backend = await realBackend(real, { requestTimeoutMs });
    const admission = new Admission(backend, {
      maxConcurrentSessions: 1,
      queue: { maxSize: 1, timeoutMs: 30_000 },
      health: false,
    });
    // The system still accepts connections to the frozen process: it reads CreateRoom later.
    real.server.pause();
    const first = admission.createSession({ userId: 'first' }).catch((e: unknown) => e);
    const second = admission.createSession({ userId: 'second' });
    await sleep(requestTimeoutMs * 4);
    real.server.resume();
    const resumedAt = Date.now();

    let mostRooms = 0;
    let settled = false;
    const both = Promise.allSettled([first, second]).finally(() => {
      settled = true;
    });
    // Long enough after resuming for the server to have served what it had been sent.
    while (!settled || Date.now() < resumedAt + requestTimeoutMs * 3) {
      mostRooms = Math.max(mostRooms, (await real.roomNames()).length);
      await sleep(10);
    }
    await both;
    expect(mostRooms).toBeLessThanOrEqual(1);
    expect(await first).toMatchObject({ code: 'timeout' });
    const session = await second;
    expect(await real.roomNames()).toEqual([session.connection.roomName]);
    await session.close();
    expect(admission.active).toBe(0);
  });
});
