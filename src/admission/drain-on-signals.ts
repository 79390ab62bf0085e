import type { DrainResult } from './events.js';
import type { DrainOptions } from './types.js';

export interface DrainOnSignalsOptions extends DrainOptions {
  /** Default `['SIGTERM', 'SIGINT']`. */
  readonly signals?: readonly NodeJS.Signals[];
  /** Runs after the drain (e.g. `backend.stop()`, closing servers). */
  readonly onDrained?: (result: DrainResult) => void | Promise<void>;
  /** Exit the process once drained (code 0, or 1 if `onDrained` threw). Default true. */
  readonly exit?: boolean;
}

/**
 * Drains `admission` when the process is told to stop (Kubernetes sends SIGTERM, then waits
 * `terminationGracePeriodSeconds`). A second signal during the drain exits at once with code
 * 130. Returns the function that removes the handlers.
 */
export function drainOnSignals(
  admission: { drain(options?: DrainOptions): Promise<DrainResult> },
  options: DrainOnSignalsOptions = {},
): () => void {
  const signals = options.signals ?? ['SIGTERM', 'SIGINT'];
  const drainOptions: DrainOptions = {
    ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
    ...(options.closeTimeoutMs === undefined ? {} : { closeTimeoutMs: options.closeTimeoutMs }),
  };
  let draining = false;
  const handler = (): void => {
    if (draining) {
      process.exit(130);
    }
    draining = true;
    void admission
      .drain(drainOptions)
      .then(async (result) => {
        await options.onDrained?.(result);
        return 0;
      })
      .catch((error: unknown) => {
        console.error('voice-admission: shutdown after drain failed:', error);
        return 1;
      })
      .then((code) => {
        if (options.exit !== false) process.exit(code);
      });
  };
  for (const signal of signals) process.on(signal, handler);
  return () => {
    for (const signal of signals) process.off(signal, handler);
  };
}
