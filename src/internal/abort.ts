/**
 * Calls `onAbort` once if `signal` aborts; returns the function that detaches the listener.
 * Listeners are always detached on completion so long-lived signals do not accumulate them.
 */
export function onAbort(signal: AbortSignal | undefined, onAbort: () => void): () => void {
  if (signal === undefined) return noop;
  signal.addEventListener('abort', onAbort, { once: true });
  return () => signal.removeEventListener('abort', onAbort);
}

/** An AbortSignal that aborts when any of the given signals aborts. */
export function anySignal(signals: readonly (AbortSignal | undefined)[]): AbortSignal | undefined {
  const present = signals.filter((s): s is AbortSignal => s !== undefined);
  if (present.length === 0) return undefined;
  if (present.length === 1) return present[0];
  return AbortSignal.any(present);
}

export function noop(): void {}
