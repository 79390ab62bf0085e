import { ConfigError } from '../iface/errors.js';
import { DEFAULT_TENANT } from '../internal/session-config.js';
import { isTooLong, TOO_LONG } from '../internal/tenant-id.js';
import {
  describeValue,
  durationField,
  isPrintable,
  knownKeys,
  MAX_TIMER_MS,
  numberField,
  objectOrUndefined,
} from '../internal/validate.js';
import type { GateRequest } from './gate/gate.js';
import type { Work } from './gate/waiter.js';
import type { AcquireOptions, CreateSessionOptions, SlotRequest } from './types.js';

/** A rejected promise for an argument of the wrong shape (the async calls never throw). */
export function invalid(field: string, expected: string, value: unknown): Promise<never> {
  return Promise.reject(mustBe(field, expected, value));
}

/** Checks the options of `createSession`. */
export function validateCallOptions(options: CreateSessionOptions): void {
  const value = objectOrUndefined('options', options) ?? {};
  knownKeys('options', value, ['signal', 'timeoutMs', 'priority']);
  if (value.signal !== undefined && !(value.signal instanceof AbortSignal)) {
    throw new ConfigError(
      'options.signal',
      `must be an AbortSignal, got ${describeValue(value.signal)}`,
    );
  }
  durationField('options.timeoutMs', value.timeoutMs, { min: 0, infinite: true });
  numberField('options.priority', value.priority, { integer: true });
}

/**
 * The gate's record for a raw slot request, or the ConfigError naming its bad field. Field
 * checks only (no key enumeration): this is the hot path for raw slots.
 */
export function checkedSlotRequest(
  request: SlotRequest,
  options: AcquireOptions,
  work: Work,
): GateRequest | ConfigError {
  if (typeof request !== 'object' || request === null)
    return mustBe('request', 'an object', request);
  if (typeof options !== 'object' || options === null)
    return mustBe('options', 'an object', options);
  const tenantId = request.tenantId ?? DEFAULT_TENANT;
  const { priority } = request;
  const { signal, timeoutMs } = options;
  if (typeof tenantId !== 'string' || tenantId.length === 0) {
    return mustBe('request.tenantId', 'a non-empty string', tenantId);
  }
  if (!isPrintable(tenantId)) {
    return mustBe('request.tenantId', 'free of control characters and lone surrogates', tenantId);
  }
  if (isTooLong(tenantId)) return mustBe('request.tenantId', TOO_LONG, tenantId);
  if (priority !== undefined && !Number.isInteger(priority)) {
    return mustBe('request.priority', 'an integer', priority);
  }
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    return mustBe('options.signal', 'an AbortSignal', signal);
  }
  if (timeoutMs !== undefined) {
    if (!(typeof timeoutMs === 'number' && timeoutMs >= 0)) {
      return mustBe('options.timeoutMs', 'a number >= 0', timeoutMs);
    }
    if (timeoutMs > MAX_TIMER_MS && timeoutMs !== Number.POSITIVE_INFINITY) {
      return mustBe('options.timeoutMs', `<= ${MAX_TIMER_MS} ms or Infinity`, timeoutMs);
    }
  }
  return { tenantId, priority: priority ?? 0, signal, timeoutMs, work, reportRefusal: true };
}

function mustBe(field: string, expected: string, value: unknown): ConfigError {
  return new ConfigError(field, `must be ${expected}, got ${describeValue(value)}`);
}
