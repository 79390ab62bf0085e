import type { CallOptions } from '../iface/backend.js';

/**
 * Calls `onAbort` once if `signal` aborts; returns the function that detaches the listener.
 * Listeners are always detached on completion so long-lived signals do not accumulate them.
 */
export function onAbort(signal: AbortSignal | undefined, onAbort: () => void): () => void {
  if (signal === undefined) return noop;
  signal.addEventListener('abort', onAbort, { once: true });
  return () => signal.removeEventListener('abort', onAbort);
}

export function noop(): void {}

/**
 * Keys a controller lent with a call's options, beside `signal` (its own signal). A callee that
 * must also abort the call itself (a backend stopping) may then abort that controller instead
 * of making one of its own linked to `signal`: one AbortSignal and no listener per session on
 * the way from Admission to a provider, where each AbortSignal costs microseconds. Callees
 * that do not know the key see a plain `signal`.
 */
export const lentController: unique symbol = Symbol('voice-admission.lentController');

/** Call options that lend the controller of their `signal`. */
export interface LendingCallOptions extends CallOptions {
  readonly [lentController]?: AbortController;
}

/**
 * The controller lent with `options`, if it still controls `options.signal` (a wrapper may have
 * copied the options with a signal of its own).
 */
export function lentBy(options: CallOptions): AbortController | undefined {
  const lent = (options as LendingCallOptions)[lentController];
  return lent !== undefined && lent.signal === options.signal ? lent : undefined;
}
