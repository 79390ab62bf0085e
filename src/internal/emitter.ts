import { ConfigError } from '../iface/errors.js';
import { describeValue } from './validate.js';
import { emitFailureWarning } from './warning.js';

/** A function called with each event of one name. */
export type Listener<T> = (event: T) => void;

/**
 * A minimal typed event emitter. Emitting with no listeners costs one array length check, so
 * hot paths can emit unconditionally. A throwing listener cannot corrupt the emitter's caller:
 * the error is reported as a process warning instead of unwinding through admission state;
 * so is the rejection of an async listener's promise, instead of an unhandled rejection.
 * `Events` is an interface without an index signature, so a misspelt event name does not compile.
 */
export class TypedEmitter<Events extends object> {
  readonly #listeners: { [K in keyof Events]?: Listener<Events[K]>[] } = {};

  /** Subscribes; returns the function that unsubscribes. */
  on<K extends keyof Events>(event: K, listener: Listener<Events[K]>): () => void {
    // Refused now rather than warned of at every event.
    if (typeof listener !== 'function') {
      throw new ConfigError('listener', `must be a function, got ${describeValue(listener)}`);
    }
    const list = this.#listeners[event] ?? [];
    // Copy on write: an emit that is under way keeps iterating the old array.
    this.#listeners[event] = [...list, listener];
    let subscribed = true;
    // Removes this subscription alone, once: a function added twice stays added once.
    return () => {
      const current = this.#listeners[event];
      if (!subscribed || current === undefined) return;
      subscribed = false;
      const at = current.lastIndexOf(listener);
      if (at >= 0) this.#listeners[event] = current.toSpliced(at, 1);
    };
  }

  protected hasListeners<K extends keyof Events>(event: K): boolean {
    const list = this.#listeners[event];
    return list !== undefined && list.length > 0;
  }

  protected emit<K extends keyof Events>(event: K, payload: Events[K]): void {
    const list = this.#listeners[event];
    if (list === undefined) return;
    for (const listener of list) callListener(listener, payload);
  }
}

/**
 * Calls a function of the caller's (a listener, a callback) with `value`. Its failure cannot
 * unwind through the library's state: a throw, or the rejection of the promise an async one
 * returns (unhandled, that would end the process), becomes a `VoiceAdmissionListenerWarning`.
 */
export function callListener<T>(listener: ((value: T) => unknown) | undefined, value: T): void {
  try {
    const returned: unknown = listener?.(value);
    if (isThenable(returned)) returned.then(undefined, warnOfListener);
  } catch (error) {
    warnOfListener(error);
  }
}

/** Calls a function of the caller's for its value: undefined, and that warning, if it throws. */
export function callerValue<T>(call: () => T): T | undefined {
  try {
    return call();
  } catch (error) {
    warnOfListener(error);
    return undefined;
  }
}

/** Reports the failure of a function of the caller's as a `VoiceAdmissionListenerWarning`. */
export function warnOfListener(error: unknown): void {
  emitFailureWarning('VoiceAdmissionListenerWarning', error);
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return typeof (value as PromiseLike<unknown> | null | undefined)?.then === 'function';
}
