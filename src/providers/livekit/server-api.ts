import type { AgentDispatchClient, RoomServiceClient } from 'livekit-server-sdk';
import type { BackendOperation } from '../../iface/errors.js';
import type { LiveKitSettings } from './config.js';
import { serverAnswer, toBackendError } from './errors.js';
import type { ServerSdk } from './sdk.js';

/** A room as listed by the server: what reconciliation needs. */
export interface ListedRoom {
  readonly name: string;
}

/**
 * The server calls the provider makes, through livekit-server-sdk's RoomServiceClient and
 * AgentDispatchClient. Every failure comes out as a `BackendError` with the LiveKit code mapped.
 */
export class LiveKitServerApi {
  readonly #rooms: RoomServiceClient;
  readonly #dispatch: AgentDispatchClient;
  readonly #settings: LiveKitSettings;
  readonly #secrets: readonly string[];

  constructor(sdk: ServerSdk, settings: LiveKitSettings, requestTimeoutMs: number) {
    const options = { requestTimeout: requestTimeoutMs / 1000 };
    const { httpUrl, apiKey, apiSecret } = settings;
    this.#rooms = new sdk.RoomServiceClient(httpUrl, apiKey, apiSecret, options);
    this.#dispatch = new sdk.AgentDispatchClient(httpUrl, apiKey, apiSecret, options);
    this.#settings = settings;
    this.#secrets = [apiSecret];
  }

  /** Creates the room with the configured options. */
  async createRoom(name: string, metadata: string): Promise<void> {
    const { emptyTimeout, departureTimeout, maxParticipants } = this.#settings;
    await this.#call('create_session', 'CreateRoom', () =>
      this.#rooms.createRoom({
        name,
        metadata,
        ...(emptyTimeout === undefined ? {} : { emptyTimeout }),
        ...(departureTimeout === undefined ? {} : { departureTimeout }),
        ...(maxParticipants === undefined ? {} : { maxParticipants }),
      }),
    );
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

  /** Dispatches `agentName` to the room; resolves the dispatch id. */
  async createDispatch(room: string, agentName: string, metadata: string): Promise<string> {
    const dispatch = await this.#call('create_session', 'CreateDispatch', () =>
      this.#dispatch.createDispatch(room, agentName, { metadata }),
    );
    return dispatch.id;
  }

  async #call<T>(op: BackendOperation, call: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      throw toBackendError(error, op, call, this.#secrets);
    }
  }
}
