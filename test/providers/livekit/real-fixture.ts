import { dispose, Room, RoomEvent } from '@livekit/rtc-node';
import { AgentDispatchClient, RoomServiceClient } from 'livekit-server-sdk';
import { afterAll } from 'vitest';
import type { BackendConfig } from '../../../src/iface/backend.js';
import type { ConnectionInfo, VoiceSession } from '../../../src/iface/session.js';
import type { LiveKitBackend } from '../../../src/index.js';
import {
  type AgentWorkerProcess,
  startAgentWorker,
  type WorkerConfig,
} from '../../support/livekit-agent-worker.js';
import {
  type LiveKitServer,
  type LiveKitServerOptions,
  startLiveKitServer,
} from '../../support/livekit-server.js';
import { onCleanup, type ProviderOverrides, startedBackend } from './fixture.js';

// rtc-node's native runtime keeps the worker process alive until disposed.
afterAll(() => dispose());

/** The real LiveKit server, stopped after the test. */
export async function startRealServer(options: LiveKitServerOptions = {}): Promise<RealServer> {
  const server = await startLiveKitServer(options);
  onCleanup(() => server.stop());
  return new RealServer(server);
}

/** The server plus what tests read from it through its own API. */
export class RealServer {
  readonly rooms: RoomServiceClient;
  readonly dispatches: AgentDispatchClient;

  constructor(readonly server: LiveKitServer) {
    const { url, apiKey, apiSecret } = server;
    this.rooms = new RoomServiceClient(url, apiKey, apiSecret);
    this.dispatches = new AgentDispatchClient(url, apiKey, apiSecret);
  }

  get wsUrl(): string {
    return this.server.wsUrl;
  }

  async roomNames(): Promise<string[]> {
    return (await this.rooms.listRooms()).map((room) => room.name).sort();
  }
}

/** A started LiveKit backend on the real server, stopped after the test. */
export function realBackend(
  real: RealServer,
  providerConfig: ProviderOverrides = {},
  config: Omit<BackendConfig, 'providerConfig'> = {},
): Promise<LiveKitBackend> {
  return startedBackend(
    { wsUrl: real.wsUrl, apiKey: real.server.apiKey, apiSecret: real.server.apiSecret },
    providerConfig,
    config,
  );
}

/**
 * A real agent worker (test/support/livekit-agent-worker.ts) taking the jobs of agent `intake`,
 * the agent the tests' backends dispatch, on the real server; stopped after the test. Its job
 * processes get a minute to initialize unless told otherwise: a burst forks several at once,
 * each loading @livekit/agents, and on a loaded 2-core machine that outlasts the worker's own
 * 10 s default, which kills the process and its job never runs (its agent never joins), as
 * docs/livekit.md warns. What the tests look at is admission, not that start-up.
 */
export async function startIntakeWorker(
  real: RealServer,
  config: Omit<WorkerConfig, 'wsUrl' | 'apiKey' | 'apiSecret' | 'agentName'>,
): Promise<AgentWorkerProcess> {
  const { apiKey, apiSecret } = real.server;
  const worker = await startAgentWorker({
    wsUrl: real.wsUrl,
    apiKey,
    apiSecret,
    agentName: 'intake',
    initializeProcessTimeout: 60_000,
    ...config,
  });
  onCleanup(() => worker.stop());
  return worker;
}

/** A caller in the session's room over loopback WebRTC, with the session's own token. */
export interface Caller {
  readonly room: Room;
  /** Resolves when the server disconnects the caller (e.g. the room was deleted). */
  readonly disconnected: Promise<void>;
  leave(): Promise<void>;
}

export async function joinAsCaller(session: VoiceSession<ConnectionInfo>): Promise<Caller> {
  return joinWithToken(session.connection.url, session.connection.token);
}

export async function joinWithToken(url: string, token: string): Promise<Caller> {
  const room = new Room();
  const disconnected = new Promise<void>((resolve) =>
    room.once(RoomEvent.Disconnected, () => resolve()),
  );
  await room.connect(url, token, { autoSubscribe: false, dynacast: false });
  let left = false;
  const leave = async (): Promise<void> => {
    if (left) return;
    left = true;
    await room.disconnect();
  };
  onCleanup(leave);
  return { room, disconnected, leave };
}
