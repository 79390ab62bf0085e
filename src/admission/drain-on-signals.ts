import { constants } from 'node:os';
import { ConfigError } from '../iface/errors.js';
import {
  booleanField,
  describeValue,
  functionField,
  knownKeys,
  objectOrUndefined,
} from '../internal/validate.js';
import { emitFailureWarning } from '../internal/warning.js';
import { resolveDrainOptions } from './drain.js';
import type { DrainResult } from './events.js';
import type { DrainOptions } from './types.js';

export interface DrainOnSignalsOptions extends DrainOptions {
  /** Default `['SIGTERM', 'SIGINT']`. */
  readonly signals?: readonly NodeJS.Signals[] | undefined;
  /**
   * Runs after the drain (e.g. `backend.stop()`, closing servers). When the drain or this
   * fails, the failure is a `VoiceAdmissionDrainWarning` process warning, the error its `cause`.
   */
  readonly onDrained?: ((result: DrainResult) => void | Promise<void>) | undefined;
  /** Exit the process once drained (code 0, or 1 if the drain or `onDrained` failed). Default true. */
  readonly exit?: boolean | undefined;
}

/**
 * Drains `admission` when the process is told to stop (Kubernetes sends SIGTERM, then waits
 * `terminationGracePeriodSeconds`). A second signal during the drain exits at once with code
 * 130. Returns the function that removes the handlers. Bad options throw a `ConfigError` here,
 * not when the signal comes.
 */
export function drainOnSignals(
  admission: { drain(options?: DrainOptions): Promise<DrainResult> },
  options: DrainOnSignalsOptions = {},
): () => void {
  // Checked now: a bad value found only at SIGTERM would exit without draining.
  if (typeof (admission as Partial<typeof admission> | undefined)?.drain !== 'function') {
    throw new ConfigError(
      'admission',
      `must be an Admission (with drain()), got ${describeValue(admission)}`,
    );
  }
  const settings = objectOrUndefined('options', options) ?? {};
  knownKeys('options', settings, ['timeoutMs', 'closeTimeoutMs', 'signals', 'onDrained', 'exit']);
  const signals = signalsField(settings.signals) ?? ['SIGTERM', 'SIGINT'];
  const onDrained = functionField<NonNullable<DrainOnSignalsOptions['onDrained']>>(
    'options.onDrained',
    settings.onDrained,
  );
  const exit = booleanField('options.exit', settings.exit, true);
  const drainOptions: DrainOptions = {
    ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
    ...(options.closeTimeoutMs === undefined ? {} : { closeTimeoutMs: options.closeTimeoutMs }),
  };
  resolveDrainOptions(drainOptions);
  let draining = false;
  const handler = (): void => {
    if (draining) {
      process.exit(130);
    }
    draining = true;
    void admission
      .drain(drainOptions)
      .then(async (result) => {
        await onDrained?.(result);
        return 0;
      })
      .catch((error: unknown) => {
        emitFailureWarning('VoiceAdmissionDrainWarning', error);
        return 1;
      })
      .then((code) => {
        // Once the warning is out: process.emitWarning emits it on the next tick.
        if (exit) setImmediate(() => process.exit(code));
      });
  };
  for (const signal of signals) process.on(signal, handler);
  return () => {
    for (const signal of signals) process.off(signal, handler);
  };
}

function signalsField(value: unknown): readonly NodeJS.Signals[] | undefined {
  if (value === undefined) return undefined;
  const bad = Array.isArray(value) ? value.find((name) => !isSignal(name)) : value;
  if (bad !== undefined || (value as unknown[]).length === 0) {
    throw new ConfigError(
      'options.signals',
      `must be a list of signal names, got ${describeValue(bad ?? value)}`,
    );
  }
  // Node.js throws at the listener of one of these, once the others are installed.
  const uncatchable = (value as string[]).find((name) => UNCATCHABLE.has(name));
  if (uncatchable !== undefined) {
    throw new ConfigError(
      'options.signals',
      `must be signals a process can catch, got ${describeValue(uncatchable)}`,
    );
  }
  return value as NodeJS.Signals[];
}

/** Signals no process can catch. */
const UNCATCHABLE: ReadonlySet<string> = new Set(['SIGKILL', 'SIGSTOP']);

function isSignal(name: unknown): name is NodeJS.Signals {
  return typeof name === 'string' && Object.hasOwn(constants.signals, name);
}
