import {
  BaseBackend,
  type OpenedSession,
  type OpenSessionRequest,
} from '../../backend/base-backend.js';
import type { BackendConfig } from '../../iface/backend.js';
import { BackendError } from '../../iface/errors.js';
import type { HealthState, HealthStatus } from '../../iface/health.js';
import type { ConnectionInfo } from '../../iface/session.js';
import { delay } from '../../internal/delay.js';
import { seededRandom } from '../../internal/random.js';
import { MAX_TIMER_MS } from '../../internal/validate.js';
import {
  parseSimulatedConfig,
  type SimulatedProviderConfig,
  type SimulationModel,
} from './config.js';

/** Counters the simulation keeps, for demos, benchmarks and tests. */
export interface SimulationStats {
  readonly setupsInProgress: number;
  readonly peakSetups: number;
  readonly setupsStarted: number;
  readonly setupsFailed: number;
  readonly setupsAborted: number;
  /** Sessions whose provider side exists (set up, not torn down). */
  readonly openSessions: number;
  readonly peakOpenSessions: number;
  readonly sessionsCompleted: number;
}

/** One conversation turn on a live simulated session. */
export interface SimulatedTurn {
  readonly sessionId: string;
  readonly tenantId: string;
  /** End of the caller's turn to the agent's first audio, per the turn model. */
  readonly latencyMs: number;
  /** Open sessions when the turn was taken. */
  readonly live: number;
}

/**
 * A SIMULATED voice backend: no media, no network. It models what matters for admission
 * control (setup latency that grows with concurrent setups, failures under overload,
 * sessions that end by themselves, a health state) so that demos, load tests and benchmarks
 * run anywhere. See `SimulatedProviderConfig` for the model.
 */
export class SimulatedBackend extends BaseBackend<ConnectionInfo> {
  readonly provider = 'simulated';
  readonly #model: SimulationModel;
  readonly #random: () => number;
  #health: { state: HealthState; reason: string | undefined };
  #failureRate: number;
  #setups = 0;
  #open = 0;
  #turnCapacity: number | undefined;
  readonly #turnListeners = new Set<(turn: SimulatedTurn) => void>();
  readonly #capacityTimers: NodeJS.Timeout[] = [];
  #stats = {
    peakSetups: 0,
    setupsStarted: 0,
    setupsFailed: 0,
    setupsAborted: 0,
    peakOpenSessions: 0,
    sessionsCompleted: 0,
  };

  constructor(config: BackendConfig<SimulatedProviderConfig> = {}) {
    super(config);
    this.#model = parseSimulatedConfig(config.providerConfig);
    this.#random = seededRandom(this.#model.seed);
    this.#health = { state: this.#model.health, reason: undefined };
    this.#failureRate = this.#model.failureRate;
    this.#turnCapacity = this.#model.turns?.capacity;
  }

  /** Calls `listener` with every turn of every live session (needs `turns`); returns an unsubscribe. */
  onTurn(listener: (turn: SimulatedTurn) => void): () => void {
    this.#turnListeners.add(listener);
    return () => this.#turnListeners.delete(listener);
  }

  /** Live sessions served before turn latency grows, now (`undefined` without `turns`). */
  get turnCapacity(): number | undefined {
    return this.#turnCapacity;
  }

  /** Changes the turn capacity now, as `turns.capacityChanges` does on schedule. */
  setTurnCapacity(capacity: number): void {
    if (this.#turnCapacity === undefined)
      throw new RangeError('turn capacity needs providerConfig.turns');
    if (!(Number.isInteger(capacity) && capacity >= 1))
      throw new RangeError(`turn capacity must be an integer >= 1, got ${capacity}`);
    this.#turnCapacity = capacity;
  }

  protected override async onStart(): Promise<void> {
    for (const change of this.#model.turns?.capacityChanges ?? []) {
      const timer = setTimeout(() => this.setTurnCapacity(change.capacity), change.atMs);
      timer.unref();
      this.#capacityTimers.push(timer);
    }
  }

  protected override async onStop(): Promise<void> {
    for (const timer of this.#capacityTimers.splice(0)) clearTimeout(timer);
  }

  /** Changes the health the next checks report, e.g. to rehearse an outage. */
  setHealth(state: HealthState, reason?: string): void {
    this.#health = { state, reason };
  }

  /** Changes the base setup failure probability. */
  setFailureRate(rate: number): void {
    if (!(rate >= 0 && rate <= 1))
      throw new RangeError(`failure rate must be in [0, 1], got ${rate}`);
    this.#failureRate = rate;
  }

  get model(): SimulationModel {
    return this.#model;
  }

  simulationStats(): SimulationStats {
    return { ...this.#stats, setupsInProgress: this.#setups, openSessions: this.#open };
  }

  protected async openSession(request: OpenSessionRequest): Promise<OpenedSession<ConnectionInfo>> {
    const model = this.#model;
    const concurrent = ++this.#setups;
    this.#stats.setupsStarted++;
    this.#stats.peakSetups = Math.max(this.#stats.peakSetups, concurrent);
    const overload = Math.max(1, concurrent / model.setupCapacity);
    const spread = 1 + model.jitter * (2 * this.#random() - 1);
    const latency = model.setupLatencyMs * overload ** model.contentionExponent * spread;
    const failureChance =
      this.#failureRate +
      (model.overloadFailureRate * Math.max(0, concurrent - model.setupCapacity)) / concurrent;
    const fails = this.#random() < failureChance;
    try {
      // Contention can model a latency past the longest timer, which would fire after 1 ms.
      await delay(Math.min(latency, model.setupTimeoutMs, MAX_TIMER_MS), request.signal);
      if (latency > model.setupTimeoutMs) {
        throw new BackendError(
          'timeout',
          'create_session',
          `simulated setup exceeded ${model.setupTimeoutMs} ms`,
          {
            provider: this.provider,
          },
        );
      }
      if (fails) {
        throw new BackendError('setup_failed', 'create_session', 'simulated setup failure', {
          provider: this.provider,
        });
      }
    } catch (error) {
      if (request.signal.aborted) this.#stats.setupsAborted++;
      else this.#stats.setupsFailed++;
      throw error;
    } finally {
      this.#setups--;
    }
    return this.#openedSession(request);
  }

  protected async probeHealth(
    signal: AbortSignal,
  ): Promise<Omit<HealthStatus, 'checkedAt' | 'latencyMs'>> {
    await delay(this.#model.healthLatencyMs, signal);
    const { state, reason } = this.#health;
    return {
      healthy: state !== 'unhealthy',
      status: state,
      reason,
      details: { simulated: true, setupsInProgress: this.#setups },
    };
  }

  #openedSession(request: OpenSessionRequest): OpenedSession<ConnectionInfo> {
    this.#open++;
    this.#stats.peakOpenSessions = Math.max(this.#stats.peakOpenSessions, this.#open);
    let open = true;
    const stopTurns = this.#takeTurns(request);
    const markClosed = (): void => {
      if (!open) return;
      open = false;
      this.#open--;
      stopTurns();
      if (timer !== undefined) clearTimeout(timer);
    };
    const duration = this.#model.sessionDurationMs;
    let timer: NodeJS.Timeout | undefined;
    if (duration !== undefined) {
      const ms = duration.min + (duration.max - duration.min) * this.#random();
      timer = setTimeout(() => {
        markClosed();
        this.#stats.sessionsCompleted++;
        this.endSession(request.id, 'completed');
      }, ms);
    }
    return {
      connection: {
        url: this.#model.url,
        roomName: `sim-${request.id}`,
        token: `sim-token-${request.id}`,
      },
      teardown: async () => {
        markClosed();
      },
    };
  }

  /** Starts a live session's turns per the turn model; returns what stops them. */
  #takeTurns(request: OpenSessionRequest): () => void {
    const turns = this.#model.turns;
    if (turns === undefined) return () => {};
    let interval: NodeJS.Timeout | undefined;
    const turn = (): void => {
      const capacity = this.#turnCapacity ?? turns.capacity;
      const overload = Math.max(1, this.#open / capacity);
      const spread = 1 + turns.jitter * (2 * this.#random() - 1);
      const sample: SimulatedTurn = {
        sessionId: request.id,
        tenantId: request.tenantId,
        latencyMs: turns.latencyMs * overload ** turns.exponent * spread,
        live: this.#open,
      };
      for (const listener of this.#turnListeners) listener(sample);
    };
    // Sessions start their turns out of step, as real callers do.
    const first = setTimeout(() => {
      turn();
      interval = setInterval(turn, turns.intervalMs);
      interval.unref();
    }, turns.intervalMs * this.#random());
    first.unref();
    return () => {
      clearTimeout(first);
      clearInterval(interval);
    };
  }
}

/** Factory registered as the `simulated` provider. */
export function createSimulatedBackend(
  config: BackendConfig<SimulatedProviderConfig> = {},
): SimulatedBackend {
  return new SimulatedBackend(config);
}
