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
