import { ConfigError } from '../iface/errors.js';
import type { SessionConfig } from '../iface/session.js';
import {
  functionField,
  knownKeys,
  objectOrUndefined,
  printableField,
  stringField,
} from './validate.js';

export const DEFAULT_TENANT = 'default';

/**
 * Deepest nesting of `metadata` taken. Providers serialise it (LiveKit: room metadata), and
 * JSON.stringify overflows the stack some thousands of levels down, which a 16 KiB JSON body
 * reaches: that would fail the setup, after a slot was taken, for the caller's own input.
 */
const MAX_METADATA_DEPTH = 64;

const SESSION_CONFIG_KEYS = [
  'userId',
  'tenantId',
  'connectionUrl',
  'agentCallback',
  'metadata',
  'idempotencyKey',
] as const;

/**
 * Checks a session config before any I/O. Shared by admission (refuse before reserving a
 * slot) and by every backend (refuse before calling the provider).
 */
export function validateSessionConfig(config: unknown): SessionConfig {
  if (config === null || typeof config !== 'object' || Array.isArray(config)) {
    throw new ConfigError('sessionConfig', 'must be an object with at least a userId');
  }
  const value = config as Record<string, unknown>;
  knownKeys('sessionConfig', value, SESSION_CONFIG_KEYS);
  printableField('sessionConfig.userId', stringField('sessionConfig.userId', value.userId, true));
  printableField('sessionConfig.tenantId', stringField('sessionConfig.tenantId', value.tenantId));
  stringField('sessionConfig.connectionUrl', value.connectionUrl);
  functionField('sessionConfig.agentCallback', value.agentCallback);
  const metadata = objectOrUndefined('sessionConfig.metadata', value.metadata);
  if (metadata !== undefined && nestedDeeperThan(metadata, MAX_METADATA_DEPTH)) {
    throw new ConfigError(
      'sessionConfig.metadata',
      `must be nested at most ${MAX_METADATA_DEPTH} levels deep (and hold no cycle)`,
    );
  }
  printableField(
    'sessionConfig.idempotencyKey',
    stringField('sessionConfig.idempotencyKey', value.idempotencyKey),
  );
  return config as SessionConfig;
}

export function tenantOf(config: { readonly tenantId?: string | undefined }): string {
  return config.tenantId ?? DEFAULT_TENANT;
}

/**
 * Whether objects and arrays nest in `value` more than `levels` deep, `value` being the first
 * level. Walked without recursion, so depth costs no stack; a cycle nests without end.
 */
function nestedDeeperThan(value: object, levels: number): boolean {
  const pending: [object, number][] = [[value, 1]];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const [node, depth] = next;
    if (depth > levels) return true;
    for (const child of Object.values(node)) {
      if (typeof child === 'object' && child !== null) pending.push([child, depth + 1]);
    }
  }
  return false;
}
