import { isPrintable } from './validate.js';

/**
 * The longest tenant id, in characters (code points, as JSON Schema's `maxLength` counts
 * them): one bound wherever an id is named, since each lands in Redis keys, log lines and
 * metric labels.
 */
export const MAX_TENANT_ID_LENGTH = 128;

/** Whether `value` is a tenant id: 1 to MAX_TENANT_ID_LENGTH printable characters. */
export function isTenantId(value: string): boolean {
  if (value === '' || !isPrintable(value)) return false;
  let characters = 0;
  for (const _ of value) if (++characters > MAX_TENANT_ID_LENGTH) return false;
  return true;
}
