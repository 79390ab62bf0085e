import { ConfigError } from '../iface/errors.js';

/** Renders a bad value for an error message without dumping large objects. */
export function describeValue(value: unknown): string {
  if (typeof value === 'string')
    return JSON.stringify(value.length > 60 ? `${value.slice(0, 57)}...` : value);
  if (typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint') {
    return String(value);
  }
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  if (Array.isArray(value)) return 'an array';
  if (value instanceof Map) return 'a Map';
  if (value instanceof Set) return 'a Set';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

/**
 * Throws when `value` is neither undefined nor a plain object. A Map or a Set is refused too:
 * its entries are no properties, so it would read as an empty object.
 */
export function objectOrUndefined(
  field: string,
  value: unknown,
): Record<string, unknown> | undefined {
  if (value === undefined) return undefined;
  if (
    value === null ||
    typeof value !== 'object' ||
    Array.isArray(value) ||
    value instanceof Map ||
    value instanceof Set
  ) {
    throw new ConfigError(field, `must be an object, got ${describeValue(value)}`);
  }
  return value as Record<string, unknown>;
}

/** Whether `value` is an object literal's kind: its prototype is Object.prototype or null. */
export function isPlainObject(value: unknown): value is object {
  if (value === null || typeof value !== 'object') return false;
  const prototype: unknown = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

/**
 * As `objectOrUndefined`, for an object of options: also refuses one that inherits from another
 * object (`Object.create(defaults)`, a class instance), as its inherited fields would be read by
 * some steps and not by others (a spread, the check for unknown keys).
 */
export function optionsOrUndefined(
  field: string,
  value: unknown,
): Record<string, unknown> | undefined {
  const options = objectOrUndefined(field, value);
  if (options === undefined || isPlainObject(options)) return options;
  throw new ConfigError(
    field,
    'must be a plain object (an object literal: its fields are its own, none inherited)',
  );
}

/** Rejects keys the options type does not know, so a typo never passes silently. */
export function knownKeys(
  field: string,
  value: Record<string, unknown>,
  allowed: readonly string[],
): void {
  for (const key of Object.keys(value)) {
    if (!allowed.includes(key)) {
      throw new ConfigError(
        field === '' ? key : `${field}.${key}`,
        `unknown option (known: ${allowed.join(', ')})`,
      );
    }
  }
}

/** The longest delay a Node.js timer honours; a longer one fires after 1 ms instead. */
export const MAX_TIMER_MS = 2_147_483_647;

export interface NumberRule {
  readonly min?: number;
  readonly max?: number;
  readonly integer?: boolean;
  /** Accept `Infinity` (meaning "no limit"). */
  readonly infinite?: boolean;
}

/** Validates a number field; returns `fallback` when the value is undefined. */
export function numberField(
  field: string,
  value: unknown,
  rule: NumberRule,
  fallback: number,
): number;
export function numberField(field: string, value: unknown, rule: NumberRule): number | undefined;
export function numberField(
  field: string,
  value: unknown,
  rule: NumberRule,
  fallback?: number,
): number | undefined {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || Number.isNaN(value)) {
    throw new ConfigError(field, `must be a number, got ${describeValue(value)}`);
  }
  if (value === Number.POSITIVE_INFINITY && rule.infinite) return value;
  if (!Number.isFinite(value))
    throw new ConfigError(field, `must be finite, got ${describeValue(value)}`);
  if (rule.integer && !Number.isInteger(value)) {
    throw new ConfigError(field, `must be an integer, got ${describeValue(value)}`);
  }
  if (rule.min !== undefined && value < rule.min) {
    throw new ConfigError(field, `must be >= ${rule.min}, got ${describeValue(value)}`);
  }
  if (rule.max !== undefined && value > rule.max) {
    throw new ConfigError(field, `must be <= ${rule.max}, got ${describeValue(value)}`);
  }
  return value;
}

export interface DurationRule {
  readonly min: number;
  readonly max?: number;
  readonly integer?: boolean;
  /** Accept `Infinity` (meaning "no timer at all"). */
  readonly infinite?: boolean;
}

/**
 * Validates a duration in milliseconds that arms a timer: finite values above
 * `MAX_TIMER_MS` are refused, since Node.js would fire them after 1 ms.
 */
export function durationField(
  field: string,
  value: unknown,
  rule: DurationRule,
  fallback: number,
): number;
export function durationField(
  field: string,
  value: unknown,
  rule: DurationRule,
): number | undefined;
export function durationField(
  field: string,
  value: unknown,
  rule: DurationRule,
  fallback?: number,
): number | undefined {
  const max = Math.min(rule.max ?? MAX_TIMER_MS, MAX_TIMER_MS);
  const ms = numberField(
    field,
    value,
    { min: rule.min, integer: rule.integer === true, infinite: rule.infinite === true },
    fallback as number,
  );
  if (ms !== undefined && ms !== Number.POSITIVE_INFINITY && ms > max) {
    throw new ConfigError(
      field,
      max === MAX_TIMER_MS
        ? `must be <= ${MAX_TIMER_MS} ms (the longest timer Node.js supports)${rule.infinite ? ' or Infinity for none' : ''}, got ${describeValue(ms)}`
        : `must be <= ${max}, got ${describeValue(ms)}`,
    );
  }
  return ms;
}

/** Validates a non-empty string field. */
export function stringField(field: string, value: unknown, required: true): string;
export function stringField(field: string, value: unknown, required?: false): string | undefined;
export function stringField(field: string, value: unknown, required = false): string | undefined {
  if (value === undefined && !required) return undefined;
  if (typeof value !== 'string' || value.length === 0) {
    throw new ConfigError(field, `must be a non-empty string, got ${describeValue(value)}`);
  }
  return value;
}

/**
 * True when `value` has no control characters (C0, DEL, C1) and no lone surrogate: a lone
 * surrogate is encoded as U+FFFD, so two such ids would become one in Redis keys, logs and
 * LiveKit identities.
 */
export function isPrintable(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if (code < 0x20 || (code >= 0x7f && code <= 0x9f)) return false;
    if (code >= 0xd800 && code <= 0xdfff) {
      // A high surrogate followed by a low one is one character; anything else is alone.
      const low = value.charCodeAt(i + 1);
      if (code > 0xdbff || !(low >= 0xdc00 && low <= 0xdfff)) return false;
      i++;
    }
  }
  return true;
}

/**
 * Whether `value` has more than `max` characters (code points). Counted only past `max` UTF-16
 * units, which are never fewer than its characters: values in bounds cost one comparison.
 */
export function longerThan(value: string, max: number): boolean {
  if (value.length <= max) return false;
  let characters = 0;
  for (const _ of value) if (++characters > max) return true;
  return false;
}

/**
 * Throws unless `value` is printable (see isPrintable). The value is quoted shortened: an id
 * can be any length, and the error may reach a log or a response.
 */
export function printableField(field: string, value: string | undefined): void {
  if (value === undefined || isPrintable(value)) return;
  throw new ConfigError(
    field,
    `must not contain control characters or lone surrogates, got ${describeValue(value)}`,
  );
}

export function booleanField(field: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') {
    throw new ConfigError(field, `must be a boolean, got ${describeValue(value)}`);
  }
  return value;
}

export function oneOf<T extends string>(
  field: string,
  value: unknown,
  allowed: readonly T[],
): T | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !(allowed as readonly string[]).includes(value)) {
    throw new ConfigError(
      field,
      `must be one of ${allowed.join(', ')}, got ${describeValue(value)}`,
    );
  }
  return value as T;
}

export function functionField<F extends (...args: never[]) => unknown>(
  field: string,
  value: unknown,
): F | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'function') {
    throw new ConfigError(field, `must be a function, got ${describeValue(value)}`);
  }
  return value as F;
}

export function abortSignalField(field: string, value: unknown): AbortSignal | undefined {
  if (value === undefined) return undefined;
  if (!(value instanceof AbortSignal)) {
    throw new ConfigError(field, `must be an AbortSignal, got ${describeValue(value)}`);
  }
  return value;
}
