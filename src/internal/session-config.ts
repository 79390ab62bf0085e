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
  objectOrUndefined('sessionConfig.metadata', value.metadata);
  printableField(
    'sessionConfig.idempotencyKey',
    stringField('sessionConfig.idempotencyKey', value.idempotencyKey),
  );
  return config as SessionConfig;
}

export function tenantOf(config: { readonly tenantId?: string | undefined }): string {
  return config.tenantId ?? DEFAULT_TENANT;
}
