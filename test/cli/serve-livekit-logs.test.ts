import { afterEach, describe, expect, it } from 'vitest';
import { type RunningGateway, serve } from '../../src/cli/serve.js';
import { parseServeConfig } from '../../src/cli/serve-config.js';
import { API_KEY, API_SECRET, startStandIn } from '../providers/livekit/fixture.js';
import { LogLines } from './gateway-harness.js';

let running: RunningGateway | undefined;
afterEach(async () => {
  await running?.close();
  running = undefined;
});

describe('serve with LiveKit', () => {
  it("logs the backend's reports: a room it could not delete, a refused webhook", async () => {
    const standIn = await startStandIn();
    const logs = new LogLines();
    running = await serve(
      parseServeConfig(['--port', '0'], {
        LIVEKIT_URL: standIn.wsUrl,
        LIVEKIT_API_KEY: API_KEY,
        LIVEKIT_API_SECRET: API_SECRET,
      }),
      { version: 'test', logStream: logs },
    );
    const created = await fetch(`${running.url}/v1/sessions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ userId: 'u' }),
    });
    expect(created.status).toBe(201);
    const session = (await created.json()) as { id: string; connection: { roomName: string } };

    // The session counts as closed and its slot is free; the room it leaves behind is logged
    // by the time the answer comes.
    standIn.inject({ methods: ['DeleteRoom'], error: 'internal' });
    const closed = await fetch(`${running.url}/v1/sessions/${session.id}`, { method: 'DELETE' });
    expect(closed.status).toBe(200);
    expect(logs.lines.find((line) => line.msg === 'livekit room not deleted')).toMatchObject({
      level: 'warn',
      roomName: session.connection.roomName,
      err: { type: 'BackendError', op: 'close_session' },
    });

    const body = standIn.webhookBody('room_finished', session.connection.roomName);
    const forged = await fetch(`${running.url}/webhooks/livekit`, {
      method: 'POST',
      headers: {
        'content-type': 'application/webhook+json',
        authorization: standIn.signWebhook(body, { secret: `${API_SECRET}-not` }),
      },
      body,
    });
    expect(forged.status).toBe(401);
    expect(logs.lines.find((line) => line.msg === 'livekit webhook refused')).toMatchObject({
      level: 'warn',
      err: { code: 'unauthenticated' },
    });
    expect(logs.text).not.toContain(API_SECRET);
  });
});
