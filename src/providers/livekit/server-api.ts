import type { RoomServiceClient } from 'livekit-server-sdk';
import type { BackendOperation } from '../../iface/errors.js';
import type { LiveKitSettings } from './config.js';
import { serverAnswer, toBackendError } from './errors.js';
import type { ServerSdk } from './sdk.js';

/** `ParticipantInfo.Kind.AGENT` in livekit/protocol (livekit-server-sdk does not export the enum). */
const AGENT_KIND = 4;
/** `ParticipantInfo.State.DISCONNECTED`. */
const DISCONNECTED = 3;

/** A room as listed by the server: what reconciliation needs. */
export interface ListedRoom {
  readonly name: string;
  /** Tells the room from an earlier or later one of the same name. */
  readonly sid: string;
}

/**
 * The server calls the provider makes, through livekit-server-sdk's RoomServiceClient. Every
 * failure comes out as a `BackendError` with the LiveKit code mapped.
 */
export class LiveKitServerApi {
  readonly #rooms: RoomServiceClient;
  readonly #settings: LiveKitSettings;
  readonly #sdk: ServerSdk;
  readonly #secrets: readonly string[];

  constructor(sdk: ServerSdk, settings: LiveKitSettings, requestTimeoutMs: number) {
    const options = { requestTimeout: requestTimeoutMs / 1000 };
    const { httpUrl, apiKey, apiSecret } = settings;
    this.#rooms = new sdk.RoomServiceClient(httpUrl, apiKey, apiSecret, options);
    this.#settings = settings;
    this.#sdk = sdk;
    this.#secrets = [apiSecret];
  }

  /**
   * Creates the room with the configured options and, when an agent name is configured, its
   * agent dispatch in the same call. A room created without `agents` gets the server's
   * automatic dispatch with an empty agent name, which every worker registered without a name
   * accepts; naming the agent here replaces it. Resolves the room's sid.
   */
  async createRoom(name: string, metadata: string): Promise<string> {
    const { emptyTimeout, departureTimeout, maxParticipants, agentName } = this.#settings;
    const room = await this.#call('create_session', 'CreateRoom', () =>
      this.#rooms.createRoom({
        name,
        metadata,
        ...(agentName === undefined
          ? {}
          : { agents: [new this.#sdk.RoomAgentDispatch({ agentName, metadata })] }),
        ...(emptyTimeout === undefined ? {} : { emptyTimeout }),
        ...(departureTimeout === undefined ? {} : { departureTimeout }),
        ...(maxParticipants === undefined ? {} : { maxParticipants }),
      }),
    );
    return room.sid;
  }

  /** Deletes the room; resolves `false` when it was already gone. */
  async deleteRoom(name: string, op: BackendOperation): Promise<boolean> {
    try {
      await this.#rooms.deleteRoom(name);
      return true;
    } catch (error) {
      if (serverAnswer(error)?.code === 'not_found') return false;
      throw toBackendError(error, op, 'DeleteRoom', this.#secrets);
    }
  }

  /** Lists rooms (all, or those named). */
  listRooms(op: BackendOperation, names?: string[]): Promise<ListedRoom[]> {
    return this.#call(op, 'ListRooms', () => this.#rooms.listRooms(names));
  }

  /** Whether a participant of kind agent is in the room. */
  async hasAgent(room: string): Promise<boolean> {
    const participants = await this.#call('create_session', 'ListParticipants', () =>
      this.#rooms.listParticipants(room),
    );
    return participants.some((p) => p.kind === AGENT_KIND);
  }

  /** Whether a participant with this identity is in the room (not one that left). */
  async hasParticipant(room: string, identity: string, op: BackendOperation): Promise<boolean> {
    const participants = await this.#call(op, 'ListParticipants', () =>
      this.#rooms.listParticipants(room),
    );
    return participants.some((p) => p.identity === identity && p.state !== DISCONNECTED);
  }

  async #call<T>(op: BackendOperation, call: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      throw toBackendError(error, op, call, this.#secrets);
    }
  }
}
