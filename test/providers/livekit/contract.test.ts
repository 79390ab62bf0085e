/**
 * One contract, two servers: what the LiveKit provider relies on, checked against the stand-in
 * (the test double) and the real livekit-server, so the stand-in cannot drift from the server.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { RoomAgentDispatch, RoomServiceClient, WebhookReceiver } from 'livekit-server-sdk';
import { describe, expect, it } from 'vitest';
import {
  describeWithLiveKitServer,
  type LiveKitServerOptions,
} from '../../support/livekit-server.js';
import { API_KEY, API_SECRET, startStandIn, startWebhookSink } from './fixture.js';
import { startRealServer } from './real-fixture.js';

interface ServerUnderTest {
  readonly url: string;
  readonly apiKey: string;
  readonly apiSecret: string;
  readonly rooms: RoomServiceClient;
  listDispatchNames(room: string): Promise<string[]>;
}

type Start = (options: {
  webhookUrls?: readonly string[];
  emptyTimeout?: number;
}) => Promise<ServerUnderTest>;

function underTest(url: string, apiKey: string, apiSecret: string): ServerUnderTest {
  const rooms = new RoomServiceClient(url, apiKey, apiSecret);
  return {
    url,
    apiKey,
    apiSecret,
    rooms,
    listDispatchNames: async (room) => {
      const { AgentDispatchClient } = await import('livekit-server-sdk');
      const dispatches = await new AgentDispatchClient(url, apiKey, apiSecret).listDispatch(room);
      return dispatches.map((d) => d.agentName).sort();
    },
  };
}

const startStandInUnderTest: Start = async (options) => {
  const standIn = await startStandIn({ webhookUrls: options.webhookUrls ?? [] });
  return underTest(standIn.url, API_KEY, API_SECRET);
};

const startRealUnderTest: Start = async (options) => {
  const serverOptions: LiveKitServerOptions = {
    webhookUrls: options.webhookUrls ?? [],
    ...(options.emptyTimeout === undefined ? {} : { emptyTimeout: options.emptyTimeout }),
  };
  const real = await startRealServer(serverOptions);
  return underTest(real.server.url, real.server.apiKey, real.server.apiSecret);
};

/** A webhook endpoint that records each delivery and answers with `status(event, attempt)`. */
async function recordingSink(status: (event: string, attempt: number) => number) {
  const sink = await startWebhookSink();
  const deliveries: {
    event: string;
    id: string;
    status: number;
    body: string;
    authorization: string | undefined;
  }[] = [];
  const waiters: { check: () => boolean; resolve: () => void }[] = [];
  sink.use((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      const { event, id } = JSON.parse(body) as { event: string; id: string };
      const answer = status(event, deliveries.filter((d) => d.id === id).length);
      deliveries.push({
        event,
        id,
        status: answer,
        body,
        authorization: req.headers.authorization,
      });
      res.writeHead(answer).end();
      for (const waiter of waiters.filter((w) => w.check())) waiter.resolve();
    });
  });
  const count = (event: string) => deliveries.filter((d) => d.event === event).length;
  return {
    url: sink.url,
    deliveries,
    /** Resolves once `event` has been delivered `times` times (retries included). */
    delivered: (event: string, times: number) =>
      new Promise<void>((resolve) => {
        const check = () => count(event) >= times;
        if (check()) resolve();
        else waiters.push({ check, resolve });
      }),
  };
}

function contract(target: string, start: Start): void {
  it(`${target}: CreateRoom is get-or-create and returns a live room unchanged`, async () => {
    const server = await start({});
    await server.rooms.createRoom({ name: 'r', emptyTimeout: 30, metadata: 'first' });
    const again = await server.rooms.createRoom({ name: 'r', emptyTimeout: 99, metadata: 'x' });
    expect(again).toMatchObject({ name: 'r', emptyTimeout: 30, metadata: 'first' });
    expect((await server.rooms.listRooms()).map((room) => room.name)).toEqual(['r']);
  });

  it(`${target}: a room without agents gets the automatic dispatch (empty agent name); named agents replace it`, async () => {
    const server = await start({});
    await server.rooms.createRoom({ name: 'plain' });
    await server.rooms.createRoom({
      name: 'named',
      agents: [new RoomAgentDispatch({ agentName: 'intake', metadata: 'm' })],
    });
    expect(await server.listDispatchNames('plain')).toEqual(['']);
    expect(await server.listDispatchNames('named')).toEqual(['intake']);
  });

  it(`${target}: DeleteRoom of a missing room is not_found`, async () => {
    const server = await start({});
    await expect(server.rooms.deleteRoom('missing')).rejects.toMatchObject({
      status: 404,
      code: 'not_found',
    });
  });

  it(`${target}: a token signed with the wrong secret is refused 401 in plain text that quotes the token`, async () => {
    const server = await start({});
    const wrong = new RoomServiceClient(server.url, server.apiKey, 'w'.repeat(40));
    const error = (await wrong.listRooms().catch((e: unknown) => e)) as Error & { status: number };
    expect(error.status).toBe(401);
    expect(error.message).toMatch(/^invalid token: eyJ[\w-]+\.[\w-]+\.[\w-]+, error: /);
  });

  it(`${target}: a room nobody joins ends at its emptyTimeout with a signed room_finished; a 5xx is retried, a 4xx is not`, async () => {
    const sink = await recordingSink((event, attempt) => {
      if (event === 'room_started') return 400;
      return attempt === 0 ? 503 : 200;
    });
    const server = await start({ webhookUrls: [sink.url] });
    await server.rooms.createRoom({ name: 'short', emptyTimeout: 1 });
    await sink.delivered('room_finished', 2);
    expect(await server.rooms.listRooms()).toEqual([]);
    // One room_started (400, not retried), then room_finished refused once (503) and retried.
    expect(sink.deliveries.map((d) => `${d.event} ${d.status}`)).toEqual([
      'room_started 400',
      'room_finished 503',
      'room_finished 200',
    ]);
    const delivered = sink.deliveries.at(-1)!;
    const event = await new WebhookReceiver(server.apiKey, server.apiSecret).receive(
      delivered.body,
      delivered.authorization,
    );
    expect(event).toMatchObject({ event: 'room_finished', room: { name: 'short' } });
  });
}

describe('LiveKit contract: the stand-in (test double)', () => {
  contract('stand-in', startStandInUnderTest);
});

describeWithLiveKitServer('LiveKit contract: the real server', () => {
  contract('real server', startRealUnderTest);
});
