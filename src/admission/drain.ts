import { durationField, knownKeys, objectOrUndefined } from '../internal/validate.js';
import type { DrainResult, EventSink } from './events.js';
import type { Gate } from './gate/gate.js';
import type { Refusals } from './gate/refusals.js';
import type { SessionFlow } from './session/session-flow.js';
import type { DrainOptions } from './types.js';

export interface DrainParts {
  readonly gate: Gate;
  readonly flow: SessionFlow;
  readonly refusals: Refusals;
  readonly events: EventSink;
  /** Stops what admits on its own (the health checks). */
  readonly stopAdmitting: () => void;
  /** Runs once the drain is over (unsubscribes from the store). */
  readonly finished: () => void;
}

/** The validated options of one drain. */
interface DrainPlan {
  readonly timeoutMs: number;
  readonly closeTimeoutMs: number;
}

/** One of the drain's waits: over when its condition holds, or at its deadline. */
interface Wait {
  /** `performance.now()` time at which the wait gives up. */
  deadline: number;
  timer: NodeJS.Timeout | undefined;
  readonly expire: () => void;
}

/**
 * Stops admitting, waits up to `timeoutMs` for every slot to be released, then tells every
 * holder to stop: setups under way are cancelled (their callers get `draining`), sessions are
 * closed (reason `drained`) and raw slot holders see `slot.signal` abort. Slots are still
 * released only once what they paid for is gone; the drain waits `closeTimeoutMs` for that,
 * raw slots' holders included (their process may be about to exit).
 * A later `run()` while it lasts can bring either deadline forward, never push it back: an
 * operator who started a patient drain can still force one.
 */
export class Drain {
  readonly #parts: DrainParts;
  #result: Promise<DrainResult> | undefined;
  /** Checks, after each release, whether what the drain waits for is over. */
  #check: (() => void) | undefined;
  /** The wait under way, and which budget it spends. */
  #wait: Wait | undefined;
  #closing = false;
  /** The shortest `closeTimeoutMs` any call asked for. */
  #closeTimeoutMs = Number.POSITIVE_INFINITY;

  constructor(parts: DrainParts) {
    this.#parts = parts;
  }

  /** Called by the gate after each release. */
  released(): void {
    this.#check?.();
  }

  /**
   * Starts the drain, or returns the one under way: a budget a later call names brings that
   * deadline forward if it ends sooner (never back); a call without options just joins.
   */
  run(options: DrainOptions = {}): Promise<DrainResult> {
    let plan: DrainPlan;
    try {
      plan = resolveDrainOptions(options);
    } catch (error) {
      // Refused as a rejection, as an async call should be, and before anything stops.
      return Promise.reject(error);
    }
    if (this.#result === undefined) {
      this.#closeTimeoutMs = plan.closeTimeoutMs;
      return this.#start(plan.timeoutMs);
    }
    // Each budget bears on its own phase: the wait for holders, then the close at its end.
    if (options.closeTimeoutMs !== undefined) {
      this.#closeTimeoutMs = Math.min(this.#closeTimeoutMs, plan.closeTimeoutMs);
      if (this.#closing) this.#hasten(plan.closeTimeoutMs);
    }
    if (options.timeoutMs !== undefined && !this.#closing) this.#hasten(plan.timeoutMs);
    return this.#result;
  }

  #start(timeoutMs: number): Promise<DrainResult> {
    const { gate, events } = this.#parts;
    const started = performance.now();
    const activeAtStart = gate.active;
    // Shut, and this drain the one under way, before anyone hears of it: a `draining` listener
    // is refused like any caller, and its drain() is this one.
    this.#parts.stopAdmitting();
    gate.shut();
    let rejectedWaiters = 0;
    this.#result = this.#finish(timeoutMs).then(({ closed, aborted, revoked, timedOut }) => {
      this.#parts.finished();
      const result: DrainResult = {
        timedOut,
        activeAtStart,
        rejectedWaiters,
        closedAtDeadline: closed,
        abortedSetups: aborted,
        revokedSlots: revoked,
        stillActive: gate.active,
        durationMs: performance.now() - started,
      };
      events.emit('drained', result);
      return result;
    });
    events.emit('draining', { active: gate.active, queued: gate.queued });
    rejectedWaiters = gate.close() + this.#parts.flow.close();
    return this.#result;
  }

  async #finish(
    timeoutMs: number,
  ): Promise<{ closed: number; aborted: number; revoked: number; timedOut: boolean }> {
    const { gate, flow, refusals } = this.#parts;
    if (await this.#within(timeoutMs, () => gate.active === 0)) {
      return { closed: 0, aborted: 0, revoked: 0, timedOut: false };
    }
    const aborted = flow.settingUp;
    const closed = flow.live;
    const revoked = gate.active - flow.holding;
    // Holders stop on their slot's signal: the session flow cancels setups and closes sessions,
    // releasing each slot once its create has settled and its session has closed; raw slots'
    // holders release theirs when their work has stopped.
    gate.revokeAll((slot) => refusals.drainDeadline(slot.tenantId));
    this.#closing = true;
    await this.#within(this.#closeTimeoutMs, () => gate.active === 0);
    return { closed, aborted, revoked, timedOut: true };
  }

  // The drain's timers are not unref'ed: a drain under way is work the process must finish
  // (closing sessions at the deadline), even once its servers are closed. Each is cleared
  // when the drain moves on, so nothing is left keeping the process alive afterwards.
  /** Resolves true once `done()` holds (checked after each release), false after `timeoutMs`. */
  #within(timeoutMs: number, done: () => boolean): Promise<boolean> {
    if (done()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const settle = (over: boolean): void => {
        clearTimeout(wait.timer);
        this.#check = undefined;
        this.#wait = undefined;
        resolve(over);
      };
      const wait: Wait = {
        deadline: Number.POSITIVE_INFINITY,
        timer: undefined,
        expire: () => settle(false),
      };
      this.#wait = wait;
      this.#check = () => {
        if (done()) settle(true);
      };
      this.#hasten(timeoutMs);
    });
  }

  /** Moves the deadline of the wait under way to `timeoutMs` from now, if that is sooner. */
  #hasten(timeoutMs: number): void {
    const wait = this.#wait;
    const deadline = performance.now() + timeoutMs;
    if (wait === undefined || deadline >= wait.deadline) return;
    clearTimeout(wait.timer);
    wait.deadline = deadline;
    wait.timer = setTimeout(wait.expire, timeoutMs);
  }
}

/** Validates `drain()`'s options and fills in the defaults. */
export function resolveDrainOptions(options: DrainOptions): DrainPlan {
  const value = objectOrUndefined('options', options) ?? {};
  knownKeys('options', value, ['timeoutMs', 'closeTimeoutMs']);
  return {
    timeoutMs: durationField(
      'options.timeoutMs',
      value.timeoutMs,
      { min: 0, infinite: true },
      30_000,
    ),
    closeTimeoutMs: durationField(
      'options.closeTimeoutMs',
      value.closeTimeoutMs,
      { min: 0 },
      5_000,
    ),
  };
}
