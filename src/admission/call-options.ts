import { ConfigError } from '../iface/errors.js';
import { describeValue, knownKeys, numberField, objectOrUndefined } from '../internal/validate.js';
import type { CreateSessionOptions } from './types.js';

/** A rejected promise for an argument of the wrong shape (the async calls never throw). */
export function invalid(field: string, expected: string, value: unknown): Promise<never> {
  return Promise.reject(new ConfigError(field, `must be ${expected}, got ${describeValue(value)}`));
}

/** Checks the options of `createSession` (the raw-slot calls check theirs inline). */
export function validateCallOptions(options: CreateSessionOptions): void {
  const value = objectOrUndefined('options', options) ?? {};
  knownKeys('options', value, ['signal', 'timeoutMs', 'priority']);
  if (value.signal !== undefined && !(value.signal instanceof AbortSignal)) {
    throw new ConfigError(
      'options.signal',
      `must be an AbortSignal, got ${describeValue(value.signal)}`,
    );
  }
  numberField('options.timeoutMs', value.timeoutMs, { min: 0, infinite: true });
  numberField('options.priority', value.priority, { integer: true });
}
