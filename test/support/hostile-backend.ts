import type {
  BackendConfig,
  BackendState,
  CallOptions,
  VoiceBackend,
} from '../../src/iface/backend.js';
import { BackendError } from '../../src/iface/errors.js';
import type { HealthStatus } from '../../src/iface/health.js';
import type {
  ConnectionInfo,
  SessionConfig,
  SessionEnd,
  SessionEndReason,
  SessionState,
  VoiceSession,
} from '../../src/iface/session.js';

/** What a create does when its signal aborts. */
export type AbortBehaviour =
  /** Stops: tears down what it opened (taking `closeMs`), then rejects. */
  | 'honour'
  /** Finishes its work first, then tears down and rejects (as the LiveKit provider does). */
  | 'finish-then-teardown'
  /** Never looks at the signal: settles exactly as it would have. */
  | 'ignore';

/** How one create behaves. Every create opens its provider resource at once. */
export interface CreatePlan {
  /** How long the create takes to settle. */
  readonly settleMs: number;
  /** `fail`: fails after the resource was opened (released just before the rejection). */
  readonly outcome: 'succeed' | 'fail';
  readonly onAbort: AbortBehaviour;
  /** How long tearing a session (or an aborted create) down takes. */
  readonly closeMs: number;
  /** The session's `close()` starts its teardown, then throws instead of returning a promise. */
  readonly closeThrows?: boolean;
  /** The session's `closed` rejects when it ends, against its contract, instead of resolving. */
  readonly closedRejects?: boolean;
  /**
   * Settles inside the call, against its contract: returns the session itself, or throws its
   * failure, instead of a promise (`settleMs` and `onAbort` do not apply).
   */
  readonly synchronous?: boolean;
  /** `closed` settles this long after the teardown, which `close()` resolves at. */
  readonly closedLagMs?: number;
  /** The provider ends the session on its own before the create settles with it. */
  readonly endsDuringCreate?: boolean;
}

export const POLITE: CreatePlan = {
  settleMs: 0,
  outcome: 'succeed',
  onAbort: 'honour',
  closeMs: 0,
};

/** A resource really open on the provider's side, from the start of a create to its teardown. */
interface Resource {
  readonly tenantId: string;
  readonly key: string | undefined;
}

/**
 * A backend with real, hostile timing: creates settle late, may ignore their abort signal or
 * finish before tearing down, and may fail after opening their resource. It counts what is
 * really open on the provider's side (per tenant and per idempotency key) and reports each
 * change to `onOpen`, so a test checks invariants at the instant they could break. Timers are
 * plain `setTimeout`s: run it under a fake clock.
 */
export class HostileBackend implements VoiceBackend {
  readonly provider = 'hostile';
  readonly config: Readonly<BackendConfig>;
  state: BackendState = 'running';
  /** The plan for a create, by its config; `POLITE` by default. */
  plan: (config: SessionConfig) => CreatePlan = () => POLITE;
  /** Called after every change of what is open. */
  onOpen: ((backend: HostileBackend) => void) | undefined;
  /** Called as a create settles, just before its promise does (to hit the await after it). */
  onSettle: ((config: SessionConfig) => void) | undefined;
  readonly #open = new Set<Resource>();
  readonly #sessions = new Map<string, HostileSession>();
  #sequence = 0;
  creates = 0;
  peakOpen = 0;

  constructor(config: BackendConfig = {}) {
    this.config = config;
  }

  get open(): number {
    return this.#open.size;
  }

  openFor(tenantId: string): number {
    let count = 0;
    for (const resource of this.#open) if (resource.tenantId === tenantId) count++;
    return count;
  }

  /** Open resources per (tenant, idempotency key), for keys with more than one. */
  keysOpenTwice(): string[] {
    const counts = new Map<string, number>();
    for (const { tenantId, key } of this.#open) {
      if (key === undefined) continue;
      const id = `${tenantId}/${key}`;
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
    return [...counts].filter(([, n]) => n > 1).map(([id]) => id);
  }

  async start(): Promise<void> {}

  async stop(): Promise<void> {
    this.state = 'stopped';
  }

  createSession(config: SessionConfig, options: CallOptions = {}): Promise<VoiceSession> {
    const plan = this.plan(config);
    const { signal } = options;
    const tenantId = config.tenantId ?? 'default';
    const resource: Resource = { tenantId, key: config.idempotencyKey };
    const id = `s${++this.#sequence}`;
    this.creates++;
    this.#change(() => this.#open.add(resource));
    const release = (): void => this.#change(() => this.#open.delete(resource));
    const opened = (): VoiceSession => {
      const session = new HostileSession(id, tenantId, config.userId, plan, () => {
        this.#sessions.delete(id);
        release();
      });
      this.#sessions.set(id, session);
      if (plan.endsDuringCreate === true) session.endedRemotely();
      this.onSettle?.(config);
      return session;
    };
    const failed = (): BackendError => {
      release();
      this.onSettle?.(config);
      return new BackendError('setup_failed', 'create_session', 'hostile create failed', {
        provider: this.provider,
      });
    };
    if (plan.synchronous === true) {
      if (plan.outcome === 'fail') throw failed();
      return opened() as unknown as Promise<VoiceSession>;
    }
    return new Promise<VoiceSession>((resolve, reject) => {
      let settled = false;
      const abortError = (): BackendError =>
        new BackendError('aborted', 'create_session', 'create was aborted', {
          provider: this.provider,
          cause: signal?.reason,
        });
      const tearDownThenReject = (): void => {
        setTimeout(() => {
          release();
          this.onSettle?.(config);
          reject(abortError());
        }, plan.closeMs);
      };
      const onAbort = (): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        tearDownThenReject();
      };
      const timer = setTimeout(() => {
        if (settled) return;
        settled = true;
        signal?.removeEventListener('abort', onAbort);
        if (plan.outcome === 'fail') reject(failed());
        else if (signal?.aborted && plan.onAbort === 'finish-then-teardown') tearDownThenReject();
        else resolve(opened());
      }, plan.settleMs);
      if (signal !== undefined && plan.onAbort === 'honour') {
        if (signal.aborted) onAbort();
        else signal.addEventListener('abort', onAbort, { once: true });
      }
    });
  }

  getActiveSessionCount(): number {
    return this.#sessions.size;
  }

  async healthCheck(): Promise<HealthStatus> {
    return { healthy: true, status: 'healthy', checkedAt: Date.now(), latencyMs: 0 };
  }

  getSession(id: string): VoiceSession | undefined {
    return this.#sessions.get(id);
  }

  listSessions(): VoiceSession[] {
    return [...this.#sessions.values()];
  }

  /** The provider ends a session on its own (a room finished on the server). */
  endFromServer(id: string): void {
    this.#sessions.get(id)?.endedRemotely();
  }

  #change(apply: () => void): void {
    apply();
    this.peakOpen = Math.max(this.peakOpen, this.#open.size);
    this.onOpen?.(this);
  }
}

class HostileSession implements VoiceSession {
  readonly id: string;
  readonly provider = 'hostile';
  readonly tenantId: string;
  readonly userId: string;
  readonly createdAt = Date.now();
  readonly connection: ConnectionInfo;
  readonly metadata = undefined;
  readonly closed: Promise<SessionEnd>;
  state: SessionState = 'active';
  readonly #plan: CreatePlan;
  readonly #gone: () => void;
  #end!: (end: SessionEnd) => void;
  #closing: Promise<SessionEnd> | undefined;

  constructor(id: string, tenantId: string, userId: string, plan: CreatePlan, gone: () => void) {
    this.id = id;
    this.tenantId = tenantId;
    this.userId = userId;
    this.connection = { url: 'test://hostile', roomName: id, token: `token-${id}` };
    this.#plan = plan;
    this.#gone = gone;
    this.closed = new Promise((resolve, reject) => {
      this.#end =
        plan.closedRejects === true ? () => reject(new Error('hostile closed rejected')) : resolve;
    });
  }

  close(reason: SessionEndReason = 'closed'): Promise<SessionEnd> {
    if (this.#closing !== undefined) return this.#closing;
    if (this.state === 'closed') return this.closed;
    this.state = 'closing';
    this.#closing = new Promise<void>((resolve) => setTimeout(resolve, this.#plan.closeMs)).then(
      () => this.#finish(reason),
    );
    if (this.#plan.closeThrows === true) throw new Error('hostile close threw');
    return this.#closing;
  }

  endedRemotely(): void {
    if (this.state !== 'closed') this.#finish('remote_ended');
  }

  #finish(reason: SessionEndReason): SessionEnd {
    const end = { reason, endedAt: Date.now() };
    if (this.state === 'closed') return end;
    this.state = 'closed';
    // The provider's resources are gone before anyone learns the session ended.
    this.#gone();
    const lag = this.#plan.closedLagMs ?? 0;
    if (lag > 0) setTimeout(() => this.#end(end), lag);
    else this.#end(end);
    return end;
  }
}
