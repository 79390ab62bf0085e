import type { CallOptions } from '../iface/backend.js';

/** The calls waiting on one signal, behind the one listener they share. */
interface Watchers {
  readonly calls: Set<{ readonly onAbort: () => void }>;
  readonly listener: () => void;
}

const watched = new WeakMap<AbortSignal, Watchers>();

/**
 * Calls `onAbort` once if `signal` aborts; returns the function that detaches it. Every call
 * waiting on one signal shares one listener: a server's shutdown signal passed to each of
 * hundreds of queued calls would otherwise carry hundreds, and Node warns of a leak past 10.
 * The listener comes off once no call waits, so long-lived signals do not accumulate them.
 */
export function onAbort(signal: AbortSignal | undefined, onAbort: () => void): () => void {
  if (signal === undefined) return noop;
  let watchers = watched.get(signal);
  if (watchers === undefined) {
    const calls = new Set<{ readonly onAbort: () => void }>();
    watchers = { calls, listener: () => abortAll(signal, calls) };
    watched.set(signal, watchers);
    signal.addEventListener('abort', watchers.listener, { once: true });
  }
  const { calls } = watchers;
  const call = { onAbort };
  calls.add(call);
  return () => {
    if (!calls.delete(call) || calls.size > 0 || watched.get(signal)?.calls !== calls) return;
    watched.delete(signal);
    signal.removeEventListener('abort', watchers.listener);
  };
}

function abortAll(signal: AbortSignal, calls: Set<{ readonly onAbort: () => void }>): void {
  watched.delete(signal);
  // A snapshot: each call detaches itself as it is told.
  for (const call of [...calls]) {
    calls.delete(call);
    try {
      call.onAbort();
    } catch (error) {
      // As from a listener of its own: thrown on its own, the other calls still told.
      process.nextTick(() => {
        throw error;
      });
    }
  }
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
