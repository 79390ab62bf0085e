import { request } from 'node:http';
import { describe, expect, it } from 'vitest';
import { Admission } from '../../../src/admission/admission.js';
import type { BackendError } from '../../../src/iface/errors.js';
import {
  API_SECRET,
  eventually,
  liveKitBackend,
  startStandIn,
  startWebhookSink,
} from './fixture.js';

async function setUp() {
  const standIn = await startStandIn();
  const backend = await liveKitBackend(standIn);
  const admission = new Admission(backend, { maxConcurrentSessions: 2, health: false });
  const session = await admission.createSession({ userId: 'caller' });
  const refused: BackendError[] = [];
  backend.on('webhook_refused', ({ error }) => refused.push(error));
  const finished = standIn.webhookBody('room_finished', session.connection.roomName);
  return { standIn, backend, admission, session, refused, finished };
}

describe('LiveKit provider: webhook verification', () => {
  it('applies a genuine room_finished', async () => {
    const { standIn, backend, admission, session, finished } = await setUp();
    const outcome = await backend.handleWebhook({
      body: finished,
      authorization: standIn.signWebhook(finished),
    });
    expect(outcome).toEqual({
      event: 'room_finished',
      roomName: session.connection.roomName,
      sessionId: session.id,
      action: 'ended',
    });
    expect((await session.closed).reason).toBe('remote_ended');
    expect(admission.active).toBe(0);
  });

  it.each([
    [
      'forged (signed with another secret)',
      { secret: `${API_SECRET}-not` },
      /^webhook refused: forged/,
    ],
    ['stale (its token expired)', { expiresInSeconds: -120 }, /^webhook refused: stale/],
    [
      'signed with another API key',
      { apiKey: 'APIother', secret: API_SECRET },
      /signed with API key "APIother", not ours/,
    ],
  ])('refuses a %s webhook and changes nothing', async (_, sign, message) => {
    const { standIn, backend, admission, session, refused, finished } = await setUp();
    const error = await backend
      .handleWebhook({ body: finished, authorization: standIn.signWebhook(finished, sign) })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ name: 'BackendError', code: 'unauthenticated', op: 'webhook' });
    expect((error as Error).message).toMatch(message);
    expect(refused).toEqual([error]);
    expect(session.state).toBe('active');
    expect(admission.active).toBe(1);
    expect(standIn.roomNames()).toEqual([session.connection.roomName]);
  });

  it('refuses a body tampered with after signing, and a webhook with no signature', async () => {
    const { standIn, backend, session, finished } = await setUp();
    const other = standIn.webhookBody('room_started', session.connection.roomName);
    await expect(
      backend.handleWebhook({ body: finished, authorization: standIn.signWebhook(other) }),
    ).rejects.toThrow('webhook refused: tampered: the body does not match its signed sha256');
    await expect(
      backend.handleWebhook({ body: finished, authorization: undefined }),
    ).rejects.toThrow('webhook refused: no Authorization header');
    await expect(
      backend.handleWebhook({ body: finished, authorization: 'Bearer not-a-token' }),
    ).rejects.toThrow('webhook refused: the Authorization header is not a valid signed token');
    expect(session.state).toBe('active');
  });

  it('ignores verified events about rooms it does not own', async () => {
    const { standIn, backend, session } = await setUp();
    const stranger = standIn.webhookBody('room_finished', 'someone-elses-room');
    await expect(
      backend.handleWebhook({ body: stranger, authorization: standIn.signWebhook(stranger) }),
    ).resolves.toMatchObject({ action: 'ignored', sessionId: undefined });
    expect(session.state).toBe('active');
  });

  it('the node:http handler answers 200, 401, 405 and 413', async () => {
    const { standIn, backend, session, finished } = await setUp();
    const sink = await startWebhookSink();
    sink.use(backend.webhookHandler);
    const post = (body: string, authorization: string) =>
      fetch(sink.url, {
        method: 'POST',
        headers: { Authorization: authorization, 'content-type': 'application/webhook+json' },
        body,
      });

    const forged = await post(finished, standIn.signWebhook(finished, { secret: 'x'.repeat(32) }));
    expect(forged.status).toBe(401);
    expect(await forged.json()).toEqual({
      error: 'webhook refused: forged: the signature does not verify with our API secret',
    });
    expect((await fetch(sink.url)).status).toBe(405);
    const huge = 'x'.repeat(2 * 1024 * 1024);
    expect((await post(huge, standIn.signWebhook(huge))).status).toBe(413);
    expect(session.state).toBe('active');

    const genuine = await post(finished, standIn.signWebhook(finished));
    expect(genuine.status).toBe(200);
    expect(await genuine.json()).toMatchObject({ event: 'room_finished', action: 'ended' });
    expect(session.state).toBe('closed');
  });

  it('the node:http handler answers 413 once a body passes the limit, without reading a body that does not end', async () => {
    const { backend, session } = await setUp();
    const sink = await startWebhookSink();
    sink.use(backend.webhookHandler);
    const chunk = Buffer.alloc(64 * 1024, 'x');
    // Chunked, so no Content-Length tells the size up front; the body ends only after 64 MiB.
    const answer = await new Promise<{ status: number | undefined; sent: number; ended: boolean }>(
      (resolve, reject) => {
        const req = request(sink.url, { method: 'POST', headers: { Authorization: 'x' } });
        let sent = 0;
        let ended = false;
        req.on('response', (res) => {
          res.resume();
          resolve({ status: res.statusCode, sent, ended });
          req.destroy();
        });
        req.on('error', reject);
        const write = (): void => {
          while (sent < 64 * 1024 * 1024) {
            sent += chunk.length;
            if (!req.write(chunk)) {
              req.once('drain', write);
              return;
            }
          }
          ended = true;
          req.end();
        };
        write();
      },
    );
    expect(answer.status).toBe(413);
    expect(answer.ended).toBe(false);
    expect(session.state).toBe('active');
  });
});

describe('LiveKit provider: webhooks out of order, duplicated, or about other rooms', () => {
  it('a duplicated room_finished releases the slot once; the second is ignored', async () => {
    const { standIn, backend, admission, finished } = await setUp();
    const released: number[] = [];
    admission.on('released', ({ active }) => released.push(active));
    const authorization = standIn.signWebhook(finished);
    const first = await backend.handleWebhook({ body: finished, authorization });
    const second = await backend.handleWebhook({ body: finished, authorization });
    expect([first.action, second.action]).toEqual(['ended', 'ignored']);
    expect(released).toEqual([0]);
  });

  it('the room_started of a closed session’s own room, delivered late, deletes nothing; a re-created room (another sid) is deleted', async () => {
    const { standIn, backend, session } = await setUp();
    const { roomName } = session.connection;
    const lateDeleted: string[] = [];
    backend.on('late_room_deleted', ({ roomName: room }) => lateDeleted.push(room));
    // Captured while the room exists: it carries that room's sid.
    const started = standIn.webhookBody('room_started', roomName);
    await session.close();
    const deletes = standIn.calls('DeleteRoom');

    const stale = await backend.handleWebhook({
      body: started,
      authorization: standIn.signWebhook(started),
    });
    expect(stale).toMatchObject({ event: 'room_started', action: 'ignored' });
    expect(standIn.calls('DeleteRoom')).toBe(deletes);

    // The caller's still valid token re-creates the room: same name, new sid.
    standIn.addRoom(roomName);
    const recreated = standIn.webhookBody('room_started', roomName);
    const late = await backend.handleWebhook({
      body: recreated,
      authorization: standIn.signWebhook(recreated),
    });
    expect(late).toMatchObject({ event: 'room_started', action: 'deleted' });
    await eventually(() => lateDeleted.length === 1);
    expect(lateDeleted).toEqual([roomName]);
    expect(standIn.roomNames()).toEqual([]);
  });

  it('events about rooms it does not own change nothing, whatever their kind', async () => {
    const { standIn, backend, admission, session } = await setUp();
    for (const event of [
      'room_started',
      'participant_joined',
      'participant_left',
      'room_finished',
    ]) {
      const body = standIn.webhookBody(event, 'va-not-ours', 'caller');
      await expect(
        backend.handleWebhook({ body, authorization: standIn.signWebhook(body) }),
      ).resolves.toMatchObject({ event, action: 'ignored' });
    }
    expect(session.state).toBe('active');
    expect(admission.active).toBe(1);
    expect(standIn.calls('DeleteRoom')).toBe(0);
  });
});

describe('LiveKit provider: a room that finishes while its session is being created', () => {
  /**
   * A create whose CreateRoom answer is late: the room exists on the server, and the backend
   * does not know its sid yet. Reconciliation is off (the fixture's default).
   */
  async function createAnsweredLate() {
    const standIn = await startStandIn();
    const backend = await liveKitBackend(standIn);
    const admission = new Admission(backend, { maxConcurrentSessions: 1, health: false });
    const released: number[] = [];
    admission.on('released', ({ active }) => released.push(active));
    let answer = (): void => undefined;
    const answerHeldUntil = new Promise<void>((resolve) => (answer = resolve));
    standIn.inject({ methods: ['CreateRoom'], answerHeldUntil, times: 1 });
    const creating = admission.createSession({ userId: 'caller' });
    creating.catch(() => undefined);
    await eventually(() => standIn.roomNames().length === 1);
    const roomName = standIn.roomNames()[0]!;
    // Captured while the room exists: it carries that room's sid.
    const finished = standIn.webhookBody('room_finished', roomName);
    return { standIn, backend, admission, released, answer, creating, roomName, finished };
  }

  it('a room_finished delivered before CreateRoom answers fails the create; the slot is released once', async () => {
    const { standIn, backend, admission, released, answer, creating, roomName, finished } =
      await createAnsweredLate();
    standIn.finishRoom(roomName, { notify: false });
    const outcome = await backend.handleWebhook({
      body: finished,
      authorization: standIn.signWebhook(finished),
    });
    answer();

    await expect(creating).rejects.toMatchObject({
      name: 'BackendError',
      code: 'setup_failed',
      op: 'create_session',
      message: `room ${roomName} finished on the server while the session was being created`,
    });
    expect(outcome).toMatchObject({ event: 'room_finished', roomName, action: 'ended' });
    expect(admission.stats()).toMatchObject({ active: 0, settingUp: 0 });
    expect(released).toEqual([0]);
    expect(backend.getActiveSessionCount()).toBe(0);
    expect(standIn.roomNames()).toEqual([]);
  });

  it('a room_finished for another room of the name (another sid) does not end the create', async () => {
    const { standIn, backend, admission, released, answer, creating, roomName, finished } =
      await createAnsweredLate();
    const body = JSON.parse(finished) as { room: Record<string, unknown> };
    const another = JSON.stringify({ ...body, room: { ...body.room, sid: 'RM_another' } });
    await backend.handleWebhook({ body: another, authorization: standIn.signWebhook(another) });
    answer();

    const session = await creating;
    expect(session.state).toBe('active');
    expect(admission.active).toBe(1);
    expect(released).toEqual([]);
    expect(standIn.roomNames()).toEqual([roomName]);
    // The room it made is still the session's: its own room_finished ends it as usual.
    const own = await backend.handleWebhook({
      body: finished,
      authorization: standIn.signWebhook(finished),
    });
    expect(own).toMatchObject({ sessionId: session.id, action: 'ended' });
    expect((await session.closed).reason).toBe('remote_ended');
    expect(released).toEqual([0]);
  });
});
