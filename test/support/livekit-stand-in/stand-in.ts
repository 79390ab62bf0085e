import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { type Claims, parseUnverified, signJwt, verifyJwt } from './jwt.js';
import { badRoute, TwirpError, writeTextError, writeTwirpError } from './twirp.js';

/**
 * A TEST DOUBLE of a LiveKit server, for tests on machines where no LiveKit server can run.
 * It speaks the server's Twirp JSON API for the calls the LiveKit provider makes, checks
 * tokens and grants the way the server does, answers errors with the server's Twirp bodies and
 * status codes, serves `GET /` health, and sends webhooks signed the way the server signs
 * them. It has no media plane: participants are added and removed by the test.
 *
 * Faults can be injected: latency, Twirp errors (5xx, 429), a server that is down (connection
 * refused) or not ready (`GET /` answers 406).
 *
 * Sources it follows: livekit/livekit pkg/service (auth.go, roomservice.go,
 * agent_dispatch_service.go, server.go) and livekit/protocol (auth, webhook, *.twirp.go).
 */
export class LiveKitStandIn {
  readonly #keys = new Map<string, string>();
  readonly #webhookUrls: string[];
  readonly #webhookApiKey: string;
  readonly #autoCreate: boolean;
  readonly #rooms = new Map<string, StandInRoom>();
  readonly #faults = new Set<ActiveFault>();
  readonly #deliveries: WebhookDelivery[] = [];
  #pendingDeliveries = new Set<Promise<void>>();
  /** The last delivery queued per webhook URL and room: one at a time, in order. */
  readonly #webhookQueues = new Map<string, Promise<void>>();
  readonly #webhookRetryMinMs: number;
  #expiry: NodeJS.Timeout | undefined;
  #server: Server | undefined;
  #port = 0;
  #ready = true;
  #signalling: 'refuse' | 'hang' = 'refuse';
  readonly #hungSockets = new Set<Duplex>();
  #peakRooms = 0;
  readonly #calls = new Map<string, number>();

  constructor(options: StandInOptions) {
    for (const [key, secret] of Object.entries(options.keys)) this.#keys.set(key, secret);
    this.#webhookUrls = [...(options.webhookUrls ?? [])];
    this.#webhookApiKey = options.webhookApiKey ?? Object.keys(options.keys)[0]!;
    this.#autoCreate = options.autoCreate ?? true;
    this.#webhookRetryMinMs = options.webhookRetryMinMs ?? 1_000;
  }

  /** Listens on a free loopback port. */
  async start(): Promise<this> {
    await this.#listen(0);
    this.#expiry = setInterval(() => this.#expireRooms(), 1_000).unref();
    return this;
  }

  async stop(): Promise<void> {
    clearInterval(this.#expiry);
    await this.#close();
    await this.webhooksDelivered();
  }

  /** `http://127.0.0.1:<port>` */
  get url(): string {
    return `http://127.0.0.1:${this.#port}`;
  }

  /** `ws://127.0.0.1:<port>`, the form LIVEKIT_URL usually takes. */
  get wsUrl(): string {
    return `ws://127.0.0.1:${this.#port}`;
  }

  // ------------------------------------------------------------------ faults

  /** Stops listening: connections are refused until `comeBack()`. */
  async goDown(): Promise<void> {
    await this.#close();
  }

  /** Listens again on the same port. */
  async comeBack(): Promise<void> {
    await this.#listen(this.#port);
  }

  /** `GET /` answers 406 "Not Ready" while false, as a node whose stats are stale. */
  setReady(ready: boolean): void {
    this.#ready = ready;
  }

  /**
   * What a participant's WebSocket connection (`/rtc`) meets; there is no media plane here.
   * `'refuse'` (default) closes it at once, `'hang'` accepts the TCP connection and never
   * answers, as a server that stopped responding.
   */
  setSignalling(mode: 'refuse' | 'hang'): void {
    this.#signalling = mode;
  }

  /** Replaces the API keys the server accepts (e.g. to make our credentials wrong). */
  setKeys(keys: Readonly<Record<string, string>>): void {
    this.#keys.clear();
    for (const [key, secret] of Object.entries(keys)) this.#keys.set(key, secret);
  }

  /** Adds a fault to Twirp calls; returns the function that removes it. */
  inject(fault: Fault): () => void {
    const active: ActiveFault = { ...fault, remaining: fault.times ?? Number.POSITIVE_INFINITY };
    this.#faults.add(active);
    return () => this.#faults.delete(active);
  }

  clearFaults(): void {
    this.#faults.clear();
  }

  // ------------------------------------------------------------------ state

  roomNames(): string[] {
    return [...this.#rooms.keys()];
  }

  room(name: string): StandInRoomView | undefined {
    const room = this.#rooms.get(name);
    if (room === undefined) return undefined;
    return {
      ...room.info,
      dispatches: [...room.dispatches.values()],
      participants: [...room.participants.keys()],
    };
  }

  /** The most rooms that existed at once since start (or the last reset). */
  get peakRooms(): number {
    return this.#peakRooms;
  }

  resetPeak(): void {
    this.#peakRooms = this.#rooms.size;
  }

  /** Twirp calls served (or refused) per `Service/Method`. */
  calls(method: string): number {
    return this.#calls.get(method) ?? 0;
  }

  /** Twirp calls served (or refused), all methods together. */
  get totalCalls(): number {
    let total = 0;
    for (const count of this.#calls.values()) total += count;
    return total;
  }

  /** Webhooks sent so far, with the status each delivery got. */
  get deliveries(): readonly WebhookDelivery[] {
    return this.#deliveries;
  }

  /** Resolves once every webhook queued so far has been delivered (or failed). */
  async webhooksDelivered(): Promise<void> {
    while (this.#pendingDeliveries.size > 0) await Promise.all(this.#pendingDeliveries);
  }

  /** A participant joins (the test plays the caller): `participant_joined` is sent. */
  join(roomName: string, identity: string): void {
    const room = this.#requireRoom(roomName);
    const participant = { sid: id('PA_'), identity, joinedAt: nowSeconds() };
    room.participants.set(identity, participant);
    this.#notify('participant_joined', room, participantJson(participant, 'ACTIVE'));
  }

  /** A participant leaves: `participant_left` is sent. */
  leave(roomName: string, identity: string): void {
    const room = this.#requireRoom(roomName);
    const participant = room.participants.get(identity);
    if (participant === undefined) throw new Error(`${identity} is not in ${roomName}`);
    room.participants.delete(identity);
    room.lastLeftMs = Date.now();
    this.#notify('participant_left', room, participantJson(participant, 'DISCONNECTED'));
  }

  /**
   * A participant that joined but whose connection never came up: the server removes it and
   * sends `participant_connection_aborted`, not `participant_left`.
   */
  abortConnection(roomName: string, identity: string): void {
    const room = this.#requireRoom(roomName);
    const participant = room.participants.get(identity);
    if (participant === undefined) throw new Error(`${identity} is not in ${roomName}`);
    room.participants.delete(identity);
    room.lastLeftMs = Date.now();
    this.#notify(
      'participant_connection_aborted',
      room,
      participantJson(participant, 'DISCONNECTED'),
    );
  }

  /**
   * The server closes a room on its own (its emptyTimeout or departureTimeout passed):
   * participants leave and `room_finished` is sent. `notify: false` loses the webhook.
   */
  finishRoom(roomName: string, options: { notify?: boolean } = {}): void {
    const room = this.#requireRoom(roomName);
    this.#closeRoom(room, options.notify ?? true);
  }

  /** A room created by someone else (e.g. a crashed instance), without going through Twirp. */
  addRoom(name: string, metadata = ''): void {
    this.#createRoom({ name, metadata });
  }

  /** Signs `body` as the server signs webhooks; options forge or age the signature. */
  signWebhook(
    body: string,
    options: { apiKey?: string; secret?: string; expiresInSeconds?: number; sha256?: string } = {},
  ): string {
    const apiKey = options.apiKey ?? this.#webhookApiKey;
    const secret = options.secret ?? this.#keys.get(apiKey) ?? '';
    const now = nowSeconds();
    return signJwt(
      {
        iss: apiKey,
        nbf: now,
        iat: now,
        exp: now + (options.expiresInSeconds ?? 5 * 60),
        sha256: options.sha256 ?? createHash('sha256').update(body).digest('base64'),
      },
      secret,
    );
  }

  /** The body the server would send for `event` about `roomName` (protojson, camelCase). */
  webhookBody(event: string, roomName: string, participantIdentity?: string): string {
    const room = this.#rooms.get(roomName);
    const roomInfo = room === undefined ? { name: roomName } : webhookRoomJson(room.info);
    return JSON.stringify({
      event,
      room: roomInfo,
      ...(participantIdentity === undefined
        ? {}
        : { participant: { identity: participantIdentity, state: 'DISCONNECTED' } }),
      id: id('EV_'),
      createdAt: String(nowSeconds()),
    });
  }

  // ------------------------------------------------------------------ HTTP

  #listen(port: number): Promise<void> {
    const server = createServer((req, res) => {
      this.#handle(req, res).catch((error: unknown) => {
        writeTwirpError(res, new TwirpError('internal', String(error)));
      });
    });
    server.on('upgrade', (_req, socket: Duplex) => {
      if (this.#signalling === 'refuse') {
        socket.destroy();
        return;
      }
      this.#hungSockets.add(socket);
      socket.on('close', () => this.#hungSockets.delete(socket));
    });
    this.#server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject);
        this.#port = (server.address() as AddressInfo).port;
        resolve();
      });
    });
  }

  #close(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    if (server === undefined) return Promise.resolve();
    for (const socket of this.#hungSockets) socket.destroy();
    return new Promise((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = new URL(req.url ?? '/', 'http://stand-in').pathname;
    const body = await readBody(req);
    // The auth middleware runs first, for every path, as on the server.
    const auth = this.#authenticate(req);
    if ('status' in auth) {
      writeTextError(res, auth.status, auth.text);
      return;
    }
    if (!path.startsWith('/twirp/')) {
      if (path === '/') this.#health(res);
      else writeTextError(res, 404, '404 page not found\n');
      return;
    }
    const method = req.method ?? 'GET';
    const match = /^\/twirp\/livekit\.(\w+)\/(\w+)$/.exec(path);
    const service = match?.[1];
    const name = match?.[2];
    try {
      if (method !== 'POST') {
        throw badRoute(`unsupported method "${method}" (only POST is allowed)`, method, path);
      }
      const handler = service && name ? this.#handlers[`${service}/${name}`] : undefined;
      if (handler === undefined) throw badRoute(`no handler for path "${path}"`, method, path);
      const contentType = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
      if (contentType !== 'application/json') {
        throw badRoute(
          `unexpected Content-Type: "${req.headers['content-type'] ?? ''}"`,
          method,
          path,
        );
      }
      const call = `${service}/${name}`;
      this.#calls.set(call, (this.#calls.get(call) ?? 0) + 1);
      const answerHolds = await this.#applyFaults(name!);
      let request: Record<string, unknown>;
      try {
        request = JSON.parse(body) as Record<string, unknown>;
      } catch {
        throw new TwirpError('malformed', 'the json request could not be decoded');
      }
      const response = handler(request, auth.claims);
      await Promise.all(answerHolds);
      const json = JSON.stringify(response);
      res.writeHead(200, {
        'Content-Type': 'application/json',
        'Content-Length': Buffer.byteLength(json),
      });
      res.end(json);
    } catch (error) {
      if (error instanceof TwirpError) writeTwirpError(res, error);
      else throw error;
    }
  }

  #health(res: ServerResponse): void {
    if (this.#ready) {
      writeTextError(res, 200, 'OK');
      return;
    }
    writeTextError(res, 406, `Not Ready\nNode Updated At ${new Date(0).toISOString()}`);
  }

  /** The server's APIKeyAuthMiddleware: a bad token is refused in plain text, before Twirp. */
  #authenticate(
    req: IncomingMessage,
  ): { claims: Claims | undefined } | { status: number; text: string } {
    const header = req.headers.authorization;
    let token: string | undefined;
    if (header !== undefined && header !== '') {
      if (!header.startsWith('Bearer ')) {
        return { status: 401, text: 'invalid authorization header. Must start with Bearer ' };
      }
      token = header.slice('Bearer '.length);
    } else {
      token = new URL(req.url ?? '/', 'http://stand-in').searchParams.get('access_token') ?? '';
    }
    if (token === '') return { claims: undefined };
    const parsed = parseUnverified(token);
    if (parsed === undefined) return { status: 401, text: 'invalid authorization token' };
    const secret = this.#keys.get(parsed.claims.iss ?? '');
    if (secret === undefined) {
      return { status: 401, text: `invalid API key: ${parsed.claims.iss ?? ''}` };
    }
    const verified = verifyJwt(token, secret, nowSeconds());
    if (!verified.ok) {
      // The server quotes the rejected token in its answer.
      return { status: 401, text: `invalid token: ${token}, error: ${verified.error}` };
    }
    return { claims: verified.claims };
  }

  /** Applies the faults before the call is served; resolves the holds on its answer. */
  async #applyFaults(method: string): Promise<Promise<void>[]> {
    const answerHolds: Promise<void>[] = [];
    for (const fault of this.#faults) {
      if (fault.methods !== undefined && !fault.methods.includes(method)) continue;
      if (fault.remaining <= 0) continue;
      fault.remaining--;
      if (fault.answerHeldUntil !== undefined) answerHolds.push(fault.answerHeldUntil);
      if (fault.heldUntil !== undefined) await fault.heldUntil;
      if (fault.latencyMs !== undefined) {
        await new Promise((resolve) => setTimeout(resolve, fault.latencyMs));
      }
      if (fault.error !== undefined) throw faultError(fault.error);
    }
    return answerHolds;
  }

  // ------------------------------------------------------------------ Twirp handlers

  readonly #handlers: Record<
    string,
    (req: Record<string, unknown>, claims: Claims | undefined) => unknown
  > = {
    'RoomService/CreateRoom': (req, claims) => {
      ensureCreate(claims);
      const name = stringOf(req.name);
      if (name === '') throw new TwirpError('invalid_argument', 'no room name');
      // The server counts bytes, and its message carries Twirp's prefix for a wrapped error.
      if (Buffer.byteLength(name, 'utf8') > 256) {
        throw new TwirpError(
          'invalid_argument',
          'twirp error unknown: room name length exceeds limits: max length 256',
        );
      }
      return roomJson(this.#createRoom(req).info);
    },
    'RoomService/ListRooms': (req, claims) => {
      ensureList(claims);
      const names = Array.isArray(req.names) ? (req.names as string[]) : [];
      const rooms = [...this.#rooms.values()].filter(
        (room) => names.length === 0 || names.includes(room.info.name),
      );
      return { rooms: rooms.map((room) => roomJson(room.info)) };
    },
    'RoomService/DeleteRoom': (req, claims) => {
      ensureCreate(claims);
      const room = this.#requireTwirpRoom(stringOf(req.room));
      this.#closeRoom(room, true);
      return {};
    },
    'RoomService/ListParticipants': (req, claims) => {
      const roomName = stringOf(req.room);
      ensureAdmin(claims, roomName);
      const room = this.#rooms.get(roomName);
      const participants = room === undefined ? [] : [...room.participants.values()];
      return { participants: participants.map((p) => participantJson(p, 'ACTIVE')) };
    },
    'AgentDispatchService/CreateDispatch': (req, claims) => {
      const roomName = stringOf(req.room);
      ensureAdmin(claims, roomName);
      // With room.auto_create (the default), dispatching to a missing room creates it.
      let room = this.#rooms.get(roomName);
      if (room === undefined && this.#autoCreate) room = this.#createRoom({ name: roomName });
      if (room === undefined) throw roomNotFound();
      const dispatch: AgentDispatchView = {
        id: id('AD_'),
        agentName: stringOf(req.agent_name ?? req.agentName),
        room: roomName,
        metadata: stringOf(req.metadata),
      };
      room.dispatches.set(dispatch.id, dispatch);
      return dispatchJson(dispatch);
    },
    'AgentDispatchService/ListDispatch': (req, claims) => {
      const roomName = stringOf(req.room);
      ensureAdmin(claims, roomName);
      const room = this.#requireRoomNode(roomName);
      const wanted = stringOf(req.dispatch_id ?? req.dispatchId);
      const dispatches = [...room.dispatches.values()].filter(
        (d) => wanted === '' || d.id === wanted,
      );
      return { agent_dispatches: dispatches.map(dispatchJson) };
    },
    'AgentDispatchService/DeleteDispatch': (req, claims) => {
      const roomName = stringOf(req.room);
      ensureAdmin(claims, roomName);
      const room = this.#requireRoomNode(roomName);
      const dispatchId = stringOf(req.dispatch_id ?? req.dispatchId);
      const dispatch = room.dispatches.get(dispatchId);
      if (dispatch === undefined) {
        throw new TwirpError('not_found', 'twirp error unknown: dispatch ID not found');
      }
      room.dispatches.delete(dispatchId);
      return dispatchJson(dispatch);
    },
  };

  /**
   * Get-or-create, as the server's CreateRoom: a live room is returned unchanged. A new room
   * gets a dispatch per entry of `agents`, or, without any, the automatic dispatch with an
   * empty agent name (which every worker registered without a name accepts).
   */
  #createRoom(req: Record<string, unknown>): StandInRoom {
    const name = stringOf(req.name);
    const existing = this.#rooms.get(name);
    if (existing !== undefined) return existing;
    const now = Date.now();
    const room: StandInRoom = {
      info: {
        sid: id('RM_'),
        name,
        emptyTimeout: positive(req.empty_timeout ?? req.emptyTimeout) ?? 300,
        departureTimeout: positive(req.departure_timeout ?? req.departureTimeout) ?? 20,
        maxParticipants: positive(req.max_participants ?? req.maxParticipants) ?? 0,
        metadata: stringOf(req.metadata),
        creationTime: Math.floor(now / 1000),
        creationTimeMs: now,
      },
      dispatches: new Map(),
      participants: new Map(),
    };
    const agents = Array.isArray(req.agents) ? (req.agents as Record<string, unknown>[]) : [];
    for (const agent of agents.length === 0 ? [{}] : agents) {
      const dispatch: AgentDispatchView = {
        id: id('AD_'),
        agentName: stringOf(agent.agent_name ?? agent.agentName),
        room: name,
        metadata: stringOf(agent.metadata),
      };
      room.dispatches.set(dispatch.id, dispatch);
    }
    this.#rooms.set(name, room);
    this.#peakRooms = Math.max(this.#peakRooms, this.#rooms.size);
    this.#notify('room_started', room);
    return room;
  }

  #closeRoom(room: StandInRoom, notify: boolean): void {
    this.#rooms.delete(room.info.name);
    for (const participant of room.participants.values()) {
      if (notify)
        this.#notify('participant_left', room, participantJson(participant, 'DISCONNECTED'));
    }
    room.participants.clear();
    if (notify) this.#notify('room_finished', room);
  }

  #requireRoom(name: string): StandInRoom {
    const room = this.#rooms.get(name);
    if (room === undefined) throw new Error(`no room ${name}`);
    return room;
  }

  #requireTwirpRoom(name: string): StandInRoom {
    const room = this.#rooms.get(name);
    if (room === undefined) throw roomNotFound();
    return room;
  }

  /**
   * Dispatch calls go to the node hosting the room: for a missing room no node answers, and
   * the server replies `unavailable` (after psrpc's 3 s timeout, which is not imitated here).
   */
  #requireRoomNode(name: string): StandInRoom {
    const room = this.#rooms.get(name);
    if (room === undefined) {
      throw new TwirpError('unavailable', 'twirp error unknown: no response from servers');
    }
    return room;
  }

  // ------------------------------------------------------------------ webhooks

  /**
   * Sends a webhook as protocol/webhook's URL notifier: raw JWT in Authorization, one at a
   * time per room (in order), retried up to 4 times with backoff on transport errors, 429 and
   * 5xx, never on another 4xx.
   */
  #notify(event: string, room: StandInRoom, participant?: Record<string, unknown>): void {
    if (this.#webhookUrls.length === 0) return;
    const body = JSON.stringify({
      event,
      room: webhookRoomJson(room.info),
      ...(participant === undefined ? {} : { participant }),
      id: id('EV_'),
      createdAt: String(nowSeconds()),
    });
    const token = this.signWebhook(body);
    const roomName = room.info.name;
    for (const url of this.#webhookUrls) {
      const queueKey = `${url} ${roomName}`;
      const previous = this.#webhookQueues.get(queueKey) ?? Promise.resolve();
      const delivery = previous.then(() => this.#deliver(url, body, token, event, roomName));
      this.#webhookQueues.set(queueKey, delivery);
      this.#pendingDeliveries.add(delivery);
      void delivery.finally(() => {
        this.#pendingDeliveries.delete(delivery);
        if (this.#webhookQueues.get(queueKey) === delivery) this.#webhookQueues.delete(queueKey);
      });
    }
  }

  async #deliver(
    url: string,
    body: string,
    token: string,
    event: string,
    room: string,
  ): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      let status = 0;
      let error: string | undefined;
      try {
        const response = await fetch(url, {
          method: 'POST',
          headers: {
            Authorization: token,
            'content-type': 'application/webhook+json',
            'User-Agent': 'LiveKit',
          },
          body,
        });
        await response.arrayBuffer();
        status = response.status;
      } catch (cause) {
        error = String(cause);
      }
      this.#deliveries.push({ event, room, status, ...(error === undefined ? {} : { error }) });
      const retryable = status === 0 || status === 429 || (status >= 500 && status !== 501);
      if (!retryable || attempt >= WEBHOOK_RETRIES) return;
      const backoff = Math.min(this.#webhookRetryMinMs * 2 ** attempt, 30_000);
      await new Promise((resolve) => setTimeout(resolve, backoff).unref());
    }
  }

  /** The server's own room timeouts, checked every second: rooms end without being deleted. */
  #expireRooms(): void {
    const now = Date.now();
    for (const room of [...this.#rooms.values()]) {
      const { emptyTimeout, departureTimeout, creationTimeMs } = room.info;
      if (room.participants.size > 0) continue;
      const expired =
        room.lastLeftMs === undefined
          ? now - creationTimeMs >= emptyTimeout * 1000
          : now - room.lastLeftMs >= departureTimeout * 1000;
      if (expired) this.#closeRoom(room, true);
    }
  }
}

/** Retries of a webhook after its first delivery (retryablehttp's default RetryMax). */
const WEBHOOK_RETRIES = 4;

export interface StandInOptions {
  /** API key -> secret, as in the server's `keys` config. */
  readonly keys: Readonly<Record<string, string>>;
  /** The server's `webhook.urls`. */
  readonly webhookUrls?: readonly string[];
  /** The server's `webhook.api_key`. Default: the first key. */
  readonly webhookApiKey?: string;
  /** The server's `room.auto_create`. Default true. */
  readonly autoCreate?: boolean;
  /** First webhook retry delay, doubling up to 30 s (the server's: 1 s). Default 1 000. */
  readonly webhookRetryMinMs?: number;
}

export type FaultError = 'internal' | 'unavailable' | 'resource_exhausted';

export interface Fault {
  /** Twirp method names it applies to (e.g. `'CreateRoom'`); default all. */
  readonly methods?: readonly string[];
  /** Delay before the answer. */
  readonly latencyMs?: number;
  /** Holds the answer until this settles: a server slower than any client timeout. */
  readonly heldUntil?: Promise<void>;
  /** Serves the call, then holds its answer until this settles: the server acted, late to say. */
  readonly answerHeldUntil?: Promise<void>;
  /** Answer this Twirp error (500, 503 or 429) instead of serving the call. */
  readonly error?: FaultError;
  /** Requests it applies to; default: until removed. */
  readonly times?: number;
}

export interface WebhookDelivery {
  readonly event: string;
  readonly room: string;
  /** HTTP status of the delivery; 0 when it could not be delivered. */
  readonly status: number;
  readonly error?: string;
}

export interface AgentDispatchView {
  readonly id: string;
  readonly agentName: string;
  readonly room: string;
  readonly metadata: string;
}

export interface RoomInfo {
  readonly sid: string;
  readonly name: string;
  readonly emptyTimeout: number;
  readonly departureTimeout: number;
  readonly maxParticipants: number;
  readonly metadata: string;
  readonly creationTime: number;
  readonly creationTimeMs: number;
}

export interface StandInRoomView extends RoomInfo {
  readonly dispatches: readonly AgentDispatchView[];
  readonly participants: readonly string[];
}

interface Participant {
  readonly sid: string;
  readonly identity: string;
  readonly joinedAt: number;
}

interface StandInRoom {
  info: RoomInfo;
  /** When the last participant left; unset while nobody has ever joined. */
  lastLeftMs?: number;
  readonly dispatches: Map<string, AgentDispatchView>;
  readonly participants: Map<string, Participant>;
}

interface ActiveFault extends Fault {
  remaining: number;
}

/** As the server words it (its Twirp error wrapped as "unknown" by psrpc). */
function roomNotFound(): TwirpError {
  return new TwirpError('not_found', 'twirp error unknown: requested room does not exist');
}

function faultError(error: FaultError): TwirpError {
  if (error === 'resource_exhausted') return new TwirpError(error, 'rate limit exceeded');
  if (error === 'unavailable') return new TwirpError(error, 'no nodes available');
  return new TwirpError(error, 'operation cannot be completed');
}

function ensureCreate(claims: Claims | undefined): void {
  if (claims?.video?.roomCreate !== true)
    throw new TwirpError('unauthenticated', 'permissions denied');
}

function ensureList(claims: Claims | undefined): void {
  if (claims?.video?.roomList !== true)
    throw new TwirpError('unauthenticated', 'permissions denied');
}

function ensureAdmin(claims: Claims | undefined, room: string): void {
  if (claims?.video?.roomAdmin !== true || claims.video.room !== room) {
    throw new TwirpError('unauthenticated', 'permissions denied');
  }
}

/** Twirp's response encoding: proto field names, defaults emitted, int64 as strings. */
function roomJson(info: RoomInfo): Record<string, unknown> {
  return {
    sid: info.sid,
    name: info.name,
    empty_timeout: info.emptyTimeout,
    departure_timeout: info.departureTimeout,
    max_participants: info.maxParticipants,
    creation_time: String(info.creationTime),
    creation_time_ms: String(info.creationTimeMs),
    turn_password: '',
    enabled_codecs: [{ mime: 'audio/opus', fmtp_line: '' }],
    metadata: info.metadata,
    num_participants: 0,
    num_publishers: 0,
    active_recording: false,
    version: null,
  };
}

/** Webhook encoding (protojson defaults): camelCase names, zero values left out. */
function webhookRoomJson(info: RoomInfo): Record<string, unknown> {
  return {
    sid: info.sid,
    name: info.name,
    emptyTimeout: info.emptyTimeout,
    departureTimeout: info.departureTimeout,
    creationTime: String(info.creationTime),
    creationTimeMs: String(info.creationTimeMs),
    ...(info.maxParticipants === 0 ? {} : { maxParticipants: info.maxParticipants }),
    ...(info.metadata === '' ? {} : { metadata: info.metadata }),
  };
}

function participantJson(
  p: Participant,
  state: 'ACTIVE' | 'DISCONNECTED',
): Record<string, unknown> {
  return { sid: p.sid, identity: p.identity, state, joinedAt: String(p.joinedAt) };
}

function dispatchJson(d: AgentDispatchView): Record<string, unknown> {
  return {
    id: d.id,
    agent_name: d.agentName,
    room: d.room,
    metadata: d.metadata,
    state: { jobs: [], created_at: String(nowSeconds()), deleted_at: '0' },
    restart_policy: 'JRP_ON_FAILURE',
    deployment: '',
  };
}

function stringOf(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

function positive(value: unknown): number | undefined {
  return typeof value === 'number' && value > 0 ? value : undefined;
}

function id(prefix: string): string {
  return prefix + randomBytes(6).toString('base64url');
}

function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
