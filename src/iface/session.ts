import type { BackendError } from './errors.js';

/** `s2s`: one speech-to-speech model; `stt_tts`: speech-to-text, LLM, text-to-speech. */

/** Lifecycle of a session: it is `active` once created; `closing` while torn down. */
export type SessionState = 'active' | 'closing' | 'closed';

/** Why a session ended. */
export type SessionEndReason =
  /** `close()` was called. */
  | 'closed'
  /** The provider ended it (LiveKit: `room_finished`, or the room vanished). */
  | 'remote_ended'
  /** The caller left and the backend was told to end the session then. */
  | 'participant_left'
  /** The session failed after it was created. */
  | 'failed'
  /** A simulated session reached its configured duration. */
  | 'completed'
  /** `backend.stop()` closed it. */
  | 'backend_stopped'
  /** A drain reached its deadline and closed it. */
  | 'drained'
  /** The caller aborted while the session was being created. */
  | 'aborted'
  /** A shared capacity store dropped the session's slot (see docs/redis.md): closed to keep the cap. */
  | 'lease_lost';

/** How a session ended; `VoiceSession.closed` resolves with it exactly once. */
export interface SessionEnd {
  readonly reason: SessionEndReason;
  /** Epoch milliseconds. */
  readonly endedAt: number;
  /** Set when tearing the session down failed; the session still counts as closed. */
  readonly error?: BackendError | undefined;
}

/** Text reply hook for pipelines that route text through the application. */
export type AgentCallback = (
  input: { readonly text: string; readonly participantIdentity: string },
  context: { readonly sessionId: string; readonly signal: AbortSignal },
) => string | undefined | Promise<string | undefined>;

/** What the caller asks for. Only `userId` is required. */
export interface SessionConfig {
  /**
   * The caller this session is for. 1 to 256 printable characters (code points), as the
   * gateway takes; a backend may allow less (LiveKit: 256 bytes in UTF-8).
   */
  readonly userId: string;
  /**
   * Tenant for per-tenant caps; `'default'` when omitted. 1 to 128 printable characters.
   */
  readonly tenantId?: string | undefined;
  /** Override of the provider's connection URL for this session. */
  readonly connectionUrl?: string | undefined;
  readonly agentCallback?: AgentCallback | undefined;
  /**
   * Free-form JSON-serialisable metadata passed to the provider (e.g. room metadata), nested
   * at most 64 levels deep, with at most 100,000 values (object entries and array items) and
   * 1,000,000 characters of keys and strings, an object or string shared by reference counted
   * each time it is reached, as JSON writes it.
   */
  readonly metadata?: Readonly<Record<string, unknown>> | undefined;
  /**
   * Makes creation idempotent: while a session created with this key (for this tenant) is
   * being created or is active, a request with the same key gets that same session. 1 to 256
   * printable characters.
   */
  readonly idempotencyKey?: string | undefined;
}

/** Provider connection info handed to the caller so it can join. */
export interface ConnectionInfo {
  readonly url: string;
  readonly roomName: string;
  /** Access token for the caller; never logged. */
  readonly token: string;
}

/** A live voice session. */
export interface VoiceSession<C extends ConnectionInfo = ConnectionInfo> {
  readonly id: string;
  readonly provider: string;
  readonly tenantId: string;
  readonly userId: string;
  readonly state: SessionState;
  /** Epoch milliseconds. */
  readonly createdAt: number;
  readonly connection: C;
  readonly metadata: Readonly<Record<string, unknown>> | undefined;
  /** Settles exactly once, when the session ends for any reason. Never rejects. */
  readonly closed: Promise<SessionEnd>;
  /** Ends the session. Idempotent: later calls return the same outcome. */
  close(reason?: SessionEndReason): Promise<SessionEnd>;
}
