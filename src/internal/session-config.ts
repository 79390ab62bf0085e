import { ConfigError } from '../iface/errors.js';
import type { SessionConfig } from '../iface/session.js';
import { tenantIdField } from './tenant-id.js';
import {
  describeValue,
  functionField,
  knownKeys,
  longerThan,
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

/**
 * Most values (object entries and array items) and most characters (keys and strings) taken in
 * `metadata`, each counted every time it is reached, as JSON.stringify writes it: objects
 * shared by reference (a = { x: b, y: b }, b = { x: c, y: c }, ...) serialise exponentially
 * larger than they are, and walking them path by path takes as long. A million characters is
 * about twice the room metadata LiveKit takes by default (512 KiB), and metadata rarely holds a
 * tenth of the values; both keep the walk, and a provider's serialising, to milliseconds.
 */
const MAX_METADATA_VALUES = 100_000;
const MAX_METADATA_CHARACTERS = 1_000_000;

const SESSION_CONFIG_KEYS = [
  'userId',
  'tenantId',
  'connectionUrl',
  'agentCallback',
  'metadata',
  'idempotencyKey',
] as const;

/**
 * Checks a session config before any I/O and returns a snapshot of it: each known field read
 * once, into a plain object holding those present. Shared by admission (refuse before
 * reserving a slot) and by every backend (refuse before calling the provider); both go on with
 * the snapshot, so a getter cannot be admitted as one tenant and created as another. An error
 * a getter throws is passed through as it is.
 */
export function validateSessionConfig(config: unknown): SessionConfig {
  if (config === null || typeof config !== 'object' || Array.isArray(config)) {
    throw new ConfigError('sessionConfig', 'must be an object with at least a userId');
  }
  const value = config as Record<string, unknown>;
  knownKeys('sessionConfig', value, SESSION_CONFIG_KEYS);
  const { userId, tenantId, connectionUrl, agentCallback, metadata, idempotencyKey } = value;
  userIdField(userId);
  if (tenantId !== undefined) tenantIdField('sessionConfig.tenantId', tenantId);
  stringField('sessionConfig.connectionUrl', connectionUrl);
  functionField('sessionConfig.agentCallback', agentCallback);
  if (objectOrUndefined('sessionConfig.metadata', metadata) !== undefined) {
    checkMetadataSize(metadata as object);
  }
  idempotencyKeyField(idempotencyKey);
  // Field by field, not a loop over Object.entries: this runs on every create, twice under
  // admission, and the entries' arrays cost more than the rest of the check together.
  const snapshot: Record<string, unknown> = { userId };
  if (tenantId !== undefined) snapshot.tenantId = tenantId;
  if (connectionUrl !== undefined) snapshot.connectionUrl = connectionUrl;
  if (agentCallback !== undefined) snapshot.agentCallback = agentCallback;
  if (metadata !== undefined) snapshot.metadata = metadata;
  if (idempotencyKey !== undefined) snapshot.idempotencyKey = idempotencyKey;
  return snapshot as unknown as SessionConfig;
}

/**
 * The longest user id, in characters (code points, as JSON Schema's `maxLength` counts them):
 * an id lands in the backend's identity, token and metadata, so it is bounded as the gateway
 * bounds it. A backend may allow less (LiveKit: 256 bytes in UTF-8).
 */
export const MAX_USER_ID_LENGTH = 256;

function userIdField(value: unknown): void {
  const field = 'sessionConfig.userId';
  const userId = stringField(field, value, true);
  // The length first: it is cheaper to check than the characters.
  if (longerThan(userId, MAX_USER_ID_LENGTH)) {
    throw new ConfigError(
      field,
      `must be at most ${MAX_USER_ID_LENGTH} characters, got ${describeValue(userId)}`,
    );
  }
  printableField(field, userId);
}

/**
 * The longest idempotency key, in characters: a key lands in a Redis key and in a map of the
 * keys in use, so it is bounded as the gateway bounds it.
 */
export const MAX_IDEMPOTENCY_KEY_LENGTH = 256;

function idempotencyKeyField(value: unknown): void {
  const field = 'sessionConfig.idempotencyKey';
  const key = stringField(field, value);
  printableField(field, key);
  if (key !== undefined && longerThan(key, MAX_IDEMPOTENCY_KEY_LENGTH)) {
    throw new ConfigError(
      field,
      `must be at most ${MAX_IDEMPOTENCY_KEY_LENGTH} characters, got ${describeValue(key)}`,
    );
  }
}

export function tenantOf(config: { readonly tenantId?: string | undefined }): string {
  return config.tenantId ?? DEFAULT_TENANT;
}

/**
 * Refuses `metadata` nested deeper than MAX_METADATA_DEPTH, `metadata` being the first level,
 * or larger, serialised, than MAX_METADATA_VALUES and MAX_METADATA_CHARACTERS allow. Walked
 * without recursion, so depth costs no stack; a cycle nests without end, and the budgets stop
 * the walk before shared objects make it long.
 */
function checkMetadataSize(metadata: object): void {
  const refusal = (why: string) => new ConfigError('sessionConfig.metadata', `must ${why}`);
  const pending: [object, number][] = [[metadata, 1]];
  let values = 0;
  let characters = 0;
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const [node, depth] = next;
    if (depth > MAX_METADATA_DEPTH) {
      throw refusal(`be nested at most ${MAX_METADATA_DEPTH} levels deep (and hold no cycle)`);
    }
    // An array's holes serialise as null: its length, checked before its items are read, is
    // what it holds.
    const isArray = Array.isArray(node);
    const children: readonly unknown[] = isArray ? node : Object.values(node);
    values += children.length;
    if (values > MAX_METADATA_VALUES) {
      throw refusal(
        `hold at most ${MAX_METADATA_VALUES} values, counting a shared object each time it is reached (as JSON writes it)`,
      );
    }
    if (!isArray) for (const key of Object.keys(node)) characters += key.length;
    for (const child of children) {
      if (typeof child === 'string') characters += child.length;
      else if (typeof child === 'object' && child !== null) pending.push([child, depth + 1]);
    }
    if (characters > MAX_METADATA_CHARACTERS) {
      throw refusal(
        `hold at most ${MAX_METADATA_CHARACTERS} characters of keys and strings, counting a shared one each time it is reached (as JSON writes it)`,
      );
    }
  }
}
