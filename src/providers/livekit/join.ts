import type { AudioSource, RemoteTrack, Room } from '@livekit/rtc-node';
import { withTimeout } from '../../backend/http.js';
import { redact } from '../../backend/redact.js';
import { BackendError } from '../../iface/errors.js';
import type { AgentCallback } from '../../iface/session.js';
import { messageOf } from '../../internal/thrown.js';
import type { LiveKitSettings } from './config.js';
import { PROVIDER } from './errors.js';
import type { RtcSdk } from './sdk.js';

/** 16-bit PCM audio, interleaved; what the room's audio is read and written as. */
export interface PcmFrame {
  readonly data: Int16Array;
  readonly sampleRate: number;
  readonly channels: number;
  readonly samplesPerChannel: number;
}

/** This process in a session's room, in join mode. */
export interface AgentParticipant {
  readonly identity: string;
  readonly roomName: string;
  /** Queues audio on the published track (at the configured sample rate and channels). */
  publishAudio(frame: PcmFrame): Promise<void>;
  /**
   * Audio frames from the other participants, at the configured sample rate and channels;
   * returns the unsubscribe function.
   */
  onAudioFrame(listener: (frame: PcmFrame, participantIdentity: string) => void): () => void;
  /** Text messages on the chat topic; returns the unsubscribe function. */
  onText(listener: (text: string, participantIdentity: string) => void): () => void;
  /** Sends a text message on the chat topic. */
  sendText(text: string): Promise<void>;
}

export interface JoinRequest {
  readonly rtc: RtcSdk;
  readonly settings: LiveKitSettings;
  readonly url: string;
  readonly token: string;
  readonly roomName: string;
  readonly sessionId: string;
  readonly agentCallback: AgentCallback | undefined;
  readonly signal: AbortSignal;
  /** The room went away without us leaving (room deleted, participant removed). */
  readonly onLost: () => void;
  /** A connect given up on completed after all; we left again, the room should go too. */
  readonly onLateConnect: () => void;
}

type Listener<A extends unknown[]> = (...args: A) => void;

/**
 * Joins the room as the agent participant: connects within `connectTimeoutMs`, publishes an
 * audio track fed from an `AudioSource`, streams incoming audio to listeners, and routes text
 * through `agentCallback` (its reply goes back as text). A failed or late connection leaves
 * nothing connected behind.
 */
export async function joinRoom(request: JoinRequest): Promise<JoinedRoom> {
  const { rtc, settings } = request;
  const room = new rtc.Room();
  const connecting = room.connect(request.url, request.token, {
    autoSubscribe: true,
    dynacast: false,
  });
  let source: AudioSource | undefined;
  try {
    await withTimeout(
      connecting,
      settings.join.connectTimeoutMs,
      request.signal,
      `connecting to the room took longer than ${settings.join.connectTimeoutMs} ms`,
    );
    source = new rtc.AudioSource(settings.join.sampleRate, settings.join.channels);
    const track = rtc.LocalAudioTrack.createAudioTrack('agent-audio', source);
    const options = new rtc.TrackPublishOptions({ source: rtc.TrackSource.SOURCE_MICROPHONE });
    await room.localParticipant!.publishTrack(track, options);
    return new JoinedRoom(room, source, request);
  } catch (error) {
    void source
      ?.close()
      .catch((closing: unknown) => warn('closing an audio source failed', closing));
    // A connect we stopped waiting for can still complete later (and a join re-creates a
    // deleted room): leave once it does, and let the caller delete the room again.
    void connecting
      .then(
        async () => {
          await room.disconnect();
          request.onLateConnect();
        },
        () => undefined, // It failed: the error that matters is the one thrown below.
      )
      .catch((late: unknown) => warn('leaving a room joined too late failed', late));
    throw joinError(error, request);
  }
}

function joinError(error: unknown, request: JoinRequest): BackendError {
  if (request.signal.aborted && request.signal.reason instanceof BackendError) {
    return request.signal.reason;
  }
  const timedOut = error instanceof Error && error.name === 'TimeoutError';
  const message = messageOf(error);
  return new BackendError(
    timedOut ? 'timeout' : 'unavailable',
    'create_session',
    `joining the LiveKit room failed: ${redact(message, [request.token, request.settings.apiSecret])}`,
    { provider: PROVIDER, cause: error },
  );
}

export class JoinedRoom implements AgentParticipant {
  readonly identity: string;
  readonly roomName: string;
  readonly #room: Room;
  readonly #source: AudioSource;
  readonly #rtc: RtcSdk;
  readonly #topic: string;
  /** Incoming audio is resampled to the format we publish in. */
  readonly #format: { readonly sampleRate: number; readonly channels: number };
  readonly #audioListeners = new Set<Listener<[PcmFrame, string]>>();
  readonly #textListeners = new Set<Listener<[string, string]>>();
  /** Aborted when we leave, so agent callbacks and audio pumps stop. */
  readonly #left = new AbortController();

  constructor(room: Room, source: AudioSource, request: JoinRequest) {
    this.#room = room;
    this.#source = source;
    this.#rtc = request.rtc;
    this.#topic = request.settings.join.textTopic;
    this.#format = request.settings.join;
    this.identity = request.settings.join.identity;
    this.roomName = request.roomName;

    room.on(request.rtc.RoomEvent.TrackSubscribed, (track, _publication, participant) => {
      if (track.kind === request.rtc.TrackKind.KIND_AUDIO) {
        void this.#pumpAudio(track, participant.identity);
      }
    });
    room.on(request.rtc.RoomEvent.Disconnected, () => {
      if (!this.#left.signal.aborted) {
        this.#left.abort();
        request.onLost();
      }
    });
    room.registerTextStreamHandler(this.#topic, (reader, from) => {
      void reader.readAll().then(
        (text) => this.#onText(text, from.identity, request),
        (error: unknown) => warn('reading a text stream failed', error),
      );
    });
  }

  publishAudio(frame: PcmFrame): Promise<void> {
    const { AudioFrame } = this.#rtc;
    return this.#source.captureFrame(
      new AudioFrame(frame.data, frame.sampleRate, frame.channels, frame.samplesPerChannel),
    );
  }

  onAudioFrame(listener: (frame: PcmFrame, participantIdentity: string) => void): () => void {
    this.#audioListeners.add(listener);
    return () => this.#audioListeners.delete(listener);
  }

  onText(listener: (text: string, participantIdentity: string) => void): () => void {
    this.#textListeners.add(listener);
    return () => this.#textListeners.delete(listener);
  }

  async sendText(text: string): Promise<void> {
    await this.#room.localParticipant!.sendText(text, { topic: this.#topic });
  }

  /** Leaves the room and releases the audio source. */
  async leave(): Promise<void> {
    if (this.#left.signal.aborted) return;
    this.#left.abort();
    this.#audioListeners.clear();
    this.#textListeners.clear();
    try {
      await this.#room.disconnect();
    } finally {
      await this.#source.close();
    }
  }

  async #pumpAudio(track: RemoteTrack, identity: string): Promise<void> {
    const stream = new this.#rtc.AudioStream(track, {
      sampleRate: this.#format.sampleRate,
      numChannels: this.#format.channels,
    });
    const stop = (): void => {
      void stream.cancel().catch(() => undefined);
    };
    this.#left.signal.addEventListener('abort', stop, { once: true });
    try {
      for await (const frame of stream) {
        for (const listener of this.#audioListeners) call(listener, frame, identity);
      }
    } catch (error) {
      if (!this.#left.signal.aborted) warn('reading an audio track failed', error);
    } finally {
      this.#left.signal.removeEventListener('abort', stop);
    }
  }

  async #onText(text: string, identity: string, request: JoinRequest): Promise<void> {
    for (const listener of this.#textListeners) call(listener, text, identity);
    if (request.agentCallback === undefined) return;
    try {
      const reply = await request.agentCallback(
        { text, participantIdentity: identity },
        { sessionId: request.sessionId, signal: this.#left.signal },
      );
      if (reply !== undefined && !this.#left.signal.aborted) await this.sendText(reply);
    } catch (error) {
      warn('the agent callback failed', error);
    }
  }
}

/** A listener that throws must not stop the others, nor the room's event loop. */
function call<A extends unknown[]>(listener: Listener<A>, ...args: A): void {
  try {
    listener(...args);
  } catch (error) {
    warn('a join-mode listener threw', error);
  }
}

function warn(what: string, error: unknown): void {
  const message = messageOf(error);
  process.emitWarning(`${what}: ${message}`, 'VoiceAdmissionLiveKitWarning');
}
