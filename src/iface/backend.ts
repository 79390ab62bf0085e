import type { HealthStatus } from './health.js';
import type { ConnectionInfo, SessionConfig, VoiceSession } from './session.js';

/** Options for a backend call that can wait. */
export interface CallOptions {
  readonly signal?: AbortSignal | undefined;
}

/** Configuration passed to `createBackend(name, config)`. */
export interface BackendConfig<P extends object = object> {
  /** Provider name; `createBackend`'s first argument wins when both are given. */
  readonly provider?: string | undefined;
  /**
   * Informational ceiling a backend reports; admission enforces the real cap. A backend
   * never refuses on its own count, since a check there would be a check-then-create race.
   */
  readonly maxConcurrentSessions?: number | undefined;
  readonly providerConfig?: P | undefined;
}

export type BackendState = 'created' | 'starting' | 'running' | 'stopping' | 'stopped';

/** A voice backend creates and tracks sessions with one provider. */
export interface VoiceBackend<C extends ConnectionInfo = ConnectionInfo> {
  readonly provider: string;
  readonly state: BackendState;
  readonly config: Readonly<BackendConfig>;
  start(): Promise<void>;
  /** Closes every session (reason `backend_stopped`) and refuses further creates. */
  stop(): Promise<void>;
  /**
   * Refuses a session config this backend could never serve (a provider's own limits, beyond
   * the checks every config passes), by throwing a `ConfigError` that names the field. Runs
   * without I/O and takes nothing. Admission calls it before a slot is reserved, so the
   * caller's mistake is refused at once and never counted as a failed setup; `createSession`
   * must refuse by the same check. `config` has passed the common checks already.
   */
  checkSessionConfig?(config: SessionConfig): void;
  createSession(config: SessionConfig, options?: CallOptions): Promise<VoiceSession<C>>;
  /** Sessions created by this backend and not yet closed. */
  getActiveSessionCount(): number;
  healthCheck(options?: CallOptions): Promise<HealthStatus>;
  getSession(id: string): VoiceSession<C> | undefined;
  listSessions(): VoiceSession<C>[];
}

/** Builds a backend from its config; registered under a provider name. */
export type ProviderFactory = (config: BackendConfig) => VoiceBackend | Promise<VoiceBackend>;
