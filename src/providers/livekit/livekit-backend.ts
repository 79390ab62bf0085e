import type { IncomingMessage, ServerResponse } from 'node:http';
import type { WebhookReceiver } from 'livekit-server-sdk';
import {
  BaseBackend,
  type OpenedSession,
  type OpenSessionRequest,
} from '../../backend/base-backend.js';
import { PeriodicTask } from '../../backend/periodic-task.js';
import { REDACTED } from '../../backend/redact.js';
import type { BackendConfig } from '../../iface/backend.js';
import { BackendError } from '../../iface/errors.js';
import type { ConnectionInfo, SessionConfig, VoiceSession } from '../../iface/session.js';
import { TypedEmitter } from '../../internal/emitter.js';
import { waitForAgent } from './agent-presence.js';
import type { LiveKitProviderConfig, LiveKitSettings } from './config.js';
import { PROVIDER, refusedByServer, unanswered } from './errors.js';
import { type ProbeResult, probeLiveKit } from './health.js';
import { type AgentParticipant, type JoinedRoom, joinRoom } from './join.js';
import { RoomLedger } from './ledger.js';
import { type ReconcileReport, reconcileOnce } from './reconcile.js';
import { untilRoomGone } from './room-gone.js';
import { loadRtcSdk, type RtcSdk, type ServerSdk } from './sdk.js';
import { LiveKitServerApi } from './server-api.js';
import { checkLiveKitSessionConfig } from './session-config.js';
import { mintAgentToken, mintCallerToken } from './tokens.js';
import {
  type RoomSeen,
  WebhookHandler,
  type WebhookOutcome,
  type WebhookRequest,
} from './webhooks.js';

/** The server accepts a token up to this long after it expired (livekit/protocol auth). */
const SERVER_TOKEN_LEEWAY_S = 60;

/** How a session's end was learnt from the server side. */
export type RemoteEndSource = 'webhook' | 'reconcile' | 'agent_disconnected';

/** Events of a LiveKit backend, for logs and alerts. */
export interface LiveKitBackendEvents {
  /** A session ended because its room ended on the server. */
  room_ended: {
    readonly sessionId: string;
    readonly roomName: string;
    readonly via: RemoteEndSource;
  };
  /** Reconciliation found rooms with our prefix that this backend does not own. */
  untracked_rooms: { readonly rooms: readonly string[]; readonly deleted: readonly string[] };
  /**
   * A room could not be deleted; reconciliation retries it. With `reconcile: false` nothing
   * does: the room is forgotten once reported (the server closes it once it is empty).
   */
  cleanup_failed: { readonly roomName: string; readonly error: BackendError };
  reconcile_failed: { readonly error: BackendError };
  /** A webhook failed verification and was ignored. */
  webhook_refused: { readonly error: BackendError };
  /**
   * A room was re-created after its session ended (a caller joining late with its still valid
   * token, with the server's `room.auto_create` on) and has been deleted.
   */
  late_room_deleted: { readonly roomName: string };
}

class LiveKitEvents extends TypedEmitter<LiveKitBackendEvents> {
  publish<K extends keyof LiveKitBackendEvents>(event: K, payload: LiveKitBackendEvents[K]): void {
    this.emit(event, payload);
  }
}

/**
 * Voice sessions on a LiveKit server: one room per session (`roomPrefix + sessionId`), the
 * configured agent dispatched into it, and an access token for the caller to join it. Rooms
 * that end without us are noticed through webhooks and a reconciliation loop.
 */
export class LiveKitBackend extends BaseBackend<ConnectionInfo> {
  readonly provider = PROVIDER;
  readonly #settings: LiveKitSettings;
  readonly #sdk: ServerSdk;
  readonly #api: LiveKitServerApi;
  /** A client whose requests time out with the health check. */
  readonly #healthApi: LiveKitServerApi;
  readonly #ledger = new RoomLedger();
  readonly #events = new LiveKitEvents();
  readonly #webhooks: WebhookHandler;
  readonly #reconciler: PeriodicTask<ReconcileReport>;
  readonly #joined = new Map<string, JoinedRoom>();
  /** Creates under way, so that stop() returns only once their rooms are cleaned up too. */
  readonly #opening = new Set<Promise<unknown>>();
  /** Aborted by stop(): creates waiting for a room whose CreateRoom got no answer give up. */
  readonly #stopping = new AbortController();
  #rtc: RtcSdk | undefined;

  /** Use `createBackend('livekit', config)`, which validates `config` into `settings`. */
  constructor(
    config: BackendConfig<LiveKitProviderConfig>,
    settings: LiveKitSettings,
    sdk: ServerSdk,
  ) {
    super(withoutSecret(config));
    this.#settings = settings;
    this.#sdk = sdk;
    this.#api = new LiveKitServerApi(sdk, settings, settings.requestTimeoutMs);
    this.#healthApi = new LiveKitServerApi(sdk, settings, settings.health.timeoutMs);
    const receiver: WebhookReceiver = new sdk.WebhookReceiver(settings.apiKey, settings.apiSecret);
    this.#webhooks = new WebhookHandler(
      receiver,
      settings.webhook,
      {
        roomFinished: (room, sid) =>
          this.#ledger.finishedWhileCreating(room, sid)
            ? this.#ledger.sessionFor(room)
            : this.#roomEnded(room, 'webhook'),
        participantLeft: (room, identity) => this.#callerLeft(room, identity),
        roomSeen: (room, sid) => this.#roomSeen(room, sid),
        refused: (error) => this.#events.publish('webhook_refused', { error }),
      },
      { apiKey: settings.apiKey, secrets: [settings.apiSecret] },
    );
    this.#reconciler = new PeriodicTask(
      () => this.#reconcile(),
      (error) =>
        this.#events.publish('reconcile_failed', {
          error: this.wrap(error, 'reconcile', 'internal'),
        }),
    );
  }

  /** Subscribes to an event; returns the function that unsubscribes. */
  on<K extends keyof LiveKitBackendEvents>(
    event: K,
    listener: (payload: LiveKitBackendEvents[K]) => void,
  ): () => void {
    return this.#events.on(event, listener);
  }

  /**
   * Verifies and applies a LiveKit webhook, from any HTTP framework: pass the raw body and the
   * `Authorization` header. Rejects with a `BackendError` (`unauthenticated`) when the webhook
   * is forged, stale or tampered with; it then changes nothing.
   */
  handleWebhook(request: WebhookRequest): Promise<WebhookOutcome> {
    return this.#webhooks.handle(request);
  }

  /** A `node:http` request listener for the webhook route (POST; answers 200, 401 or 4xx). */
  get webhookHandler(): (req: IncomingMessage, res: ServerResponse) => void {
    return this.#webhooks.nodeHandler;
  }

  /** Runs a reconciliation now (joining one under way) and reports what it found. */
  async reconcile(): Promise<ReconcileReport> {
    this.assertRunning('reconcile');
    return this.#reconciler.runNow();
  }

  /** In join mode, this process's participant in the session's room. */
  agentParticipant(sessionId: string): AgentParticipant | undefined {
    return this.#joined.get(sessionId);
  }

  protected override async onStart(): Promise<void> {
    if (this.#settings.mode === 'join') this.#rtc = await loadRtcSdk();
    const reconcile = this.#settings.reconcile;
    if (reconcile !== undefined) this.#reconciler.start(reconcile.intervalMs);
  }

  override stop(): Promise<void> {
    this.#stopping.abort();
    return super.stop();
  }

  protected override async onStop(): Promise<void> {
    this.#reconciler.stop();
    // Their signals were aborted: each stops at its next step and deletes its room.
    await Promise.allSettled(this.#opening);
    if (this.#rtc !== undefined && this.#settings.join.disposeRtcOnStop) await this.#rtc.dispose();
  }

  /** LiveKit's limits on a session config; `createSession` applies them before any server call. */
  override checkSessionConfig(config: SessionConfig): void {
    checkLiveKitSessionConfig(this.#settings, config);
  }

  protected openSession(request: OpenSessionRequest): Promise<OpenedSession<ConnectionInfo>> {
    const opening = this.#open(request);
    this.#opening.add(opening);
    void opening
      .finally(() => this.#opening.delete(opening))
      .catch(() => {
        // The create's caller gets its error; this copy only tracks when it is over.
      });
    return opening;
  }

  async #open(request: OpenSessionRequest): Promise<OpenedSession<ConnectionInfo>> {
    const { id, tenantId, config, signal } = request;
    const settings = this.#settings;
    const roomName = settings.roomPrefix + id;
    const metadata = sessionMetadata(id, tenantId, config);
    this.#ledger.claim(roomName, id);
    let roomMayExist = true;
    let createInDoubt = false;
    try {
      // Each step waits for its request to finish even when aborted: a request abandoned in
      // flight could still create the room after we leave.
      const sid = await this.#api.createRoom(roomName, metadata).catch((error: unknown) => {
        roomMayExist = !refusedByServer(error);
        createInDoubt = unanswered(error);
        throw error;
      });
      this.#ledger.created(roomName, sid);
      signal.throwIfAborted();
      this.#throwIfFinished(roomName);
      if (settings.awaitAgent !== undefined && settings.agentName !== undefined) {
        await waitForAgent({
          roomName,
          agentName: settings.agentName,
          ...settings.awaitAgent,
          signal,
          hasAgent: () => {
            // A room that finished meanwhile will see no agent: stop polling it.
            this.#throwIfFinished(roomName);
            return this.#api.hasAgent(roomName);
          },
        });
      }
      const token = await mintCallerToken(this.#sdk, settings, roomName, config.userId);
      if (settings.mode === 'join') {
        const joined = await joinRoom({
          rtc: this.#rtc!,
          settings,
          url: settings.wsUrl,
          token: await mintAgentToken(this.#sdk, settings, roomName),
          roomName,
          sessionId: id,
          agentCallback: config.agentCallback,
          signal,
          onLost: () => this.#agentLost(id),
          onLateConnect: () => {
            this.#deleteRoom(roomName).catch(() => {
              // Reported as cleanup_failed; reconciliation retries it.
            });
          },
        });
        this.#joined.set(id, joined);
        signal.throwIfAborted();
      }
      this.#throwIfFinished(roomName);
      this.#ledger.createCompleted(roomName);
      return {
        connection: { url: config.connectionUrl ?? settings.wsUrl, roomName, token },
        teardown: () => this.#teardown(id, roomName),
      };
    } catch (error) {
      if (!roomMayExist) this.#ledger.release(roomName);
      else if (createInDoubt) await this.#deleteInDoubtRoom(roomName);
      else {
        await this.#teardown(id, roomName).catch(() => {
          // Reported as cleanup_failed; the create's own error is the one to surface.
        });
      }
      throw error;
    }
  }

  /**
   * The room finished on the server while the session was being created (a webhook or a
   * reconciliation told so): the create fails rather than hand out a session whose room is
   * gone, or that an agent's join re-created with nothing to end it.
   */
  #throwIfFinished(roomName: string): void {
    if (!this.#ledger.finishedDuringCreate(roomName)) return;
    throw new BackendError(
      'setup_failed',
      'create_session',
      `room ${roomName} finished on the server while the session was being created`,
      { provider: PROVIDER },
    );
  }

  protected probeHealth(signal: AbortSignal): Promise<ProbeResult> {
    return probeLiveKit(
      {
        httpUrl: this.#settings.httpUrl,
        options: this.#settings.health,
        listRooms: () =>
          this.#healthApi.listRooms('health_check', [`${this.#settings.roomPrefix}health-probe`]),
      },
      signal,
    );
  }

  /** Leaves the room (join mode) and deletes it; a room already gone counts as deleted. */
  async #teardown(sessionId: string, roomName: string): Promise<void> {
    const joined = this.#joined.get(sessionId);
    this.#joined.delete(sessionId);
    try {
      await joined?.leave();
    } finally {
      await this.#deleteRoom(roomName);
    }
  }

  /**
   * The room's CreateRoom got no answer: the server may create it still. The create holds its
   * slot until the room is known gone, or until stop() gives up the wait. Either way the
   * ledger keeps the name as an orphan a while, so reconciliation deletes a room that lands
   * even later.
   */
  async #deleteInDoubtRoom(roomName: string): Promise<void> {
    const requestTimeoutMs = this.#settings.requestTimeoutMs;
    await untilRoomGone({
      deleteRoom: () => this.#api.deleteRoom(roomName, 'close_session'),
      requestTimeoutMs,
      stopped: this.#stopping.signal,
      onFirstFailure: (error) =>
        this.#events.publish('cleanup_failed', {
          roomName,
          error: this.wrap(error, 'close_session', 'internal'),
        }),
    });
    // Without reconciliation nothing would watch the name: it is forgotten (see #deleteRoom).
    if (this.#settings.reconcile === undefined) this.#ledger.release(roomName);
    else this.#ledger.orphan(roomName, Date.now() + 2 * requestTimeoutMs);
  }

  async #deleteRoom(roomName: string): Promise<void> {
    const op = 'close_session';
    try {
      await this.#api.deleteRoom(roomName, op);
      this.#endRoom(roomName);
    } catch (error) {
      const failure = this.wrap(error, op, 'internal');
      // Reconciliation retries the deletion of an orphan. Without it nothing would, and the
      // record would be kept for the life of the process: the room is reported, then its
      // session's end is recorded as for a deleted room (a late caller's re-creation, under
      // another sid, is still deleted when seen), and the server closes it once it is empty.
      if (this.#settings.reconcile === undefined) this.#endRoom(roomName);
      else this.#ledger.orphan(roomName);
      this.#events.publish('cleanup_failed', { roomName, error: failure });
      throw failure;
    }
  }

  /** The room ended on the server: settle its session (no teardown; the room is gone). */
  #roomEnded(roomName: string, via: RemoteEndSource): string | undefined {
    const sessionId = this.#ledger.sessionFor(roomName);
    if (sessionId === undefined || this.getSession(sessionId)?.state !== 'active') return undefined;
    this.#endRoom(roomName);
    const joined = this.#joined.get(sessionId);
    this.#joined.delete(sessionId);
    void joined?.leave().catch(() => {
      // The room is gone; leaving it can only fail because it already left.
    });
    this.endSession(sessionId, 'remote_ended');
    this.#events.publish('room_ended', { sessionId, roomName, via });
    return sessionId;
  }

  /**
   * The caller left: close the session (which deletes the room). A reconnect replaces the
   * participant, and the server reports the replaced one as left while the caller is back:
   * the server is asked whether the caller is still in the room first.
   */
  async #callerLeft(roomName: string, identity: string): Promise<string | undefined> {
    const session = this.#activeSessionOf(roomName);
    if (session === undefined || session.userId !== identity) return undefined;
    if (await this.#api.hasParticipant(roomName, identity, 'webhook')) return undefined;
    if (session.state !== 'active') return undefined;
    void session.close('participant_left');
    return session.id;
  }

  /**
   * A room of ours started or was joined. Under another sid than its session's room, that
   * room ended unseen (the server restarted: no room_finished) and a caller's join re-created
   * it: the session ends. A room re-created after its session ended is deleted.
   */
  #roomSeen(roomName: string, sid: string | undefined): RoomSeen {
    const replaced = sid !== undefined && this.#ledger.replaced(roomName, sid);
    const endedSession = replaced ? this.#roomEnded(roomName, 'webhook') : undefined;
    if (!this.#ledger.recreatedLate(roomName, Date.now(), sid)) {
      return { endedSession, deleting: false };
    }
    this.#api.deleteRoom(roomName, 'webhook').then(
      () => this.#events.publish('late_room_deleted', { roomName }),
      (error: unknown) =>
        this.#events.publish('cleanup_failed', {
          roomName,
          error: this.wrap(error, 'webhook', 'internal'),
        }),
    );
    return { endedSession, deleting: true };
  }

  /** The room is gone and its session over; its caller's token can still re-create it a while. */
  #endRoom(roomName: string): void {
    const windowMs = (this.#settings.tokenTtl + SERVER_TOKEN_LEEWAY_S) * 1000;
    const now = Date.now();
    this.#ledger.end(roomName, now + windowMs, now);
  }

  /** Our agent participant was disconnected for good: the session cannot go on. */
  #agentLost(sessionId: string): void {
    const session = this.getSession(sessionId);
    if (session?.state !== 'active') return;
    this.#events.publish('room_ended', {
      sessionId,
      roomName: session.connection.roomName,
      via: 'agent_disconnected',
    });
    void session.close('remote_ended');
  }

  #activeSessionOf(roomName: string): VoiceSession<ConnectionInfo> | undefined {
    const sessionId = this.#ledger.sessionFor(roomName);
    const session = sessionId === undefined ? undefined : this.getSession(sessionId);
    return session?.state === 'active' ? session : undefined;
  }

  async #reconcile(): Promise<ReconcileReport> {
    const report = await reconcileOnce({
      prefix: this.#settings.roomPrefix,
      deleteUntracked: this.#settings.reconcile?.deleteUntracked ?? false,
      ledger: this.#ledger,
      listRooms: () => this.#api.listRooms('reconcile'),
      deleteRoom: async (room) => {
        await this.#api.deleteRoom(room, 'reconcile');
      },
      roomGone: (room, sid) =>
        !this.#ledger.finishedWhileCreating(room, sid) &&
        this.#roomEnded(room, 'reconcile') !== undefined,
      recreatedLate: (room, sid) => this.#ledger.recreatedLate(room, Date.now(), sid),
    });
    if (report.untracked.length > 0) {
      this.#events.publish('untracked_rooms', {
        rooms: report.untracked,
        deleted: report.deleted.filter((room) => report.untracked.includes(room)),
      });
    }
    for (const error of report.errors) this.#events.publish('reconcile_failed', { error });
    return report;
  }
}

/**
 * Room and dispatch metadata: who the session is for, plus the caller's own metadata (shown
 * serialisable by `checkSessionConfig`).
 */
function sessionMetadata(sessionId: string, tenantId: string, config: SessionConfig): string {
  const fields = { sessionId, tenantId, userId: config.userId };
  return JSON.stringify(
    config.metadata === undefined ? fields : { ...fields, metadata: config.metadata },
  );
}

/** The config kept on the backend (`backend.config`) never holds the API secret. */
function withoutSecret(config: BackendConfig<LiveKitProviderConfig>): BackendConfig {
  const provider = config.providerConfig;
  if (provider?.apiSecret === undefined) return config;
  return { ...config, providerConfig: { ...provider, apiSecret: REDACTED } };
}
