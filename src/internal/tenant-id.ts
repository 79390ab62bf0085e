import { ConfigError } from '../iface/errors.js';
import { describeValue, isPrintable, longerThan, printableField, stringField } from './validate.js';

/**
 * The longest tenant id, in characters (code points, as JSON Schema's `maxLength` counts
 * them): one bound wherever an id is named, since each lands in Redis keys, log lines and
 * metric labels.
 */
export const MAX_TENANT_ID_LENGTH = 128;

/** Whether `value` is a tenant id: 1 to MAX_TENANT_ID_LENGTH printable characters. */
export function isTenantId(value: string): boolean {
  return value !== '' && isPrintable(value) && !isTooLong(value);
}

/** Whether `value` has more than MAX_TENANT_ID_LENGTH characters. */
export function isTooLong(value: string): boolean {
  return longerThan(value, MAX_TENANT_ID_LENGTH);
}

/** What a tenant id is, as settings that list ids say when one is not. */
export const TENANT_ID_RULE = `1-${MAX_TENANT_ID_LENGTH} printable characters`;

/** What an over-long tenant id is told. */
export const TOO_LONG = `at most ${MAX_TENANT_ID_LENGTH} characters`;

/** Validates a tenant id: a non-empty string of printable characters, not too long. */
export function tenantIdField(field: string, value: unknown): string {
  const tenantId = stringField(field, value, true);
  printableField(field, tenantId);
  if (isTooLong(tenantId)) {
    throw new ConfigError(field, `must be ${TOO_LONG}, got ${describeValue(tenantId)}`);
  }
  return tenantId;
}
