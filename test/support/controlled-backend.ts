import {
  BaseBackend,
  type OpenedSession,
  type OpenSessionRequest,
} from '../../src/backend/base-backend.js';
import { BackendError } from '../../src/iface/errors.js';
import type { HealthStatus } from '../../src/iface/health.js';
import type { ConnectionInfo, SessionEndReason } from '../../src/iface/session.js';

export interface PendingSetup {
  readonly id: string;
  readonly tenantId: string;
  succeed(): void;
  fail(message?: string): void;
}

/**
 * A test backend whose setups wait until the test completes or fails them, and which counts
 * provider-side resources from the start of a setup until its teardown: the number a real
 * media server would see. `peakOpen` is the highest that number ever reached.
 */
export class ControlledBackend extends BaseBackend<ConnectionInfo> {
  readonly provider = 'controlled';
  readonly pending = new Map<string, PendingSetup>();
  open = 0;
  peakOpen = 0;
  setupsStarted = 0;
  teardowns = 0;
  /** When set, setups complete by themselves after this many microtask turns (0 = at once). */
  autoComplete: 'succeed' | 'fail' | undefined;
  health: Omit<HealthStatus, 'checkedAt' | 'latencyMs'> = { healthy: true, status: 'healthy' };
  healthChecks = 0;
  /** When set, teardowns fail with this error (after releasing the resource). */
  teardownError: Error | undefined;
  /** When set, teardowns wait for it before releasing the resource (a slow room deletion). */
  teardownWaits: Promise<void> | undefined;
  /** When true, health probes never answer (and ignore their abort signal). */
  healthHangs = false;
  /** Called whenever `open` changes, so tests can check it against the slots held. */
  onOpenChanged: ((open: number) => void) | undefined;
  /** Releases each open provider resource, by session id. */
  readonly #resources = new Map<string, () => void>();

  constructor(options: { autoComplete?: 'succeed' | 'fail' } = {}) {
    super({});
    this.autoComplete = options.autoComplete;
  }

  protected openSession(request: OpenSessionRequest): Promise<OpenedSession<ConnectionInfo>> {
    this.setupsStarted++;
    this.#changeOpen(+1);
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      this.#resources.delete(request.id);
      this.#changeOpen(-1);
    };
    this.#resources.set(request.id, release);
    return new Promise<OpenedSession<ConnectionInfo>>((resolve, reject) => {
      const settle = (outcome: 'succeed' | 'fail', message = 'controlled setup failure'): void => {
        if (!this.pending.delete(request.id)) return;
        request.signal.removeEventListener('abort', onAbort);
        if (outcome === 'fail') {
          release();
          reject(
            new BackendError('setup_failed', 'create_session', message, {
              provider: this.provider,
            }),
          );
          return;
        }
        resolve({
          connection: {
            url: 'test://controlled',
            roomName: request.id,
            token: `token-${request.id}`,
          },
          teardown: async () => {
            this.teardowns++;
            await this.teardownWaits;
            release();
            if (this.teardownError !== undefined) throw this.teardownError;
          },
        });
      };
      const onAbort = (): void => {
        if (!this.pending.delete(request.id)) return;
        release();
        reject(request.signal.reason);
      };
      request.signal.addEventListener('abort', onAbort, { once: true });
      this.pending.set(request.id, {
        id: request.id,
        tenantId: request.tenantId,
        succeed: () => settle('succeed'),
        fail: (message) => settle('fail', message),
      });
      if (this.autoComplete !== undefined) {
        const outcome = this.autoComplete;
        queueMicrotask(() => settle(outcome));
      }
    });
  }

  protected probeHealth(): Promise<Omit<HealthStatus, 'checkedAt' | 'latencyMs'>> {
    this.healthChecks++;
    if (this.healthHangs) return new Promise(() => undefined);
    return Promise.resolve(this.health);
  }

  /** The provider side reports the session gone (a room finished on the server). */
  endFromServer(id: string, reason: SessionEndReason = 'remote_ended'): boolean {
    // The server's resources are gone first; the session learns of it afterwards.
    this.#resources.get(id)?.();
    return this.endSession(id, reason);
  }

  #changeOpen(delta: number): void {
    this.open += delta;
    this.peakOpen = Math.max(this.peakOpen, this.open);
    this.onOpenChanged?.(this.open);
  }
}
