import { withoutCredentials } from '../../backend/redact.js';
import { ConfigError } from '../../iface/errors.js';
import {
  booleanField,
  describeValue,
  durationField,
  knownKeys,
  numberField,
  objectOrUndefined,
  oneOf,
  stringField,
} from '../../internal/validate.js';

/** `providerConfig` of `createBackend('livekit', …)`. */
export interface LiveKitProviderConfig {
  /** Server URL, `ws://`, `wss://`, `http://` or `https://`. Default: `LIVEKIT_URL`. */
  readonly url?: string | undefined;
  /** Default: `LIVEKIT_API_KEY`. */
  readonly apiKey?: string | undefined;
  /** Default: `LIVEKIT_API_SECRET`. Never appears in errors, logs or health reasons. */
  readonly apiSecret?: string | undefined;
  /**
   * `'dispatch'` (default): rooms and tokens only; an agent worker joins through agent dispatch.
   * `'join'`: this process joins each room itself as the agent, with `@livekit/rtc-node`.
   */
  readonly mode?: 'dispatch' | 'join' | undefined;
  /** Agent dispatched explicitly to every room, with the session as JSON metadata. */
  readonly agentName?: string | undefined;
  /** Room names are `roomPrefix + sessionId`; at most 220 UTF-8 bytes. Default `'va-'`. */
  readonly roomPrefix?: string | undefined;
  /**
   * Seconds an unjoined or emptied room stays open (LiveKit `emptyTimeout`); at least 1, as
   * LiveKit reads 0 as the server's default. Default: server's.
   */
  readonly emptyTimeout?: number | undefined;
  /** Seconds a room stays open after the last participant left; at least 1. Default: server's. */
  readonly departureTimeout?: number | undefined;
  /** Participants allowed in a room. Default: no limit. */
  readonly maxParticipants?: number | undefined;
  /**
   * Seconds the caller's access token is valid; at most `emptyTimeout`, so that a caller who
   * never joined cannot re-create the room after the server closed it (rooms auto-create on
   * join), and at most 3 600. Default: `emptyTimeout`, or 600 when the server's is used. The
   * server accepts a token up to 60 s after it expired; rooms re-created in that window are
   * deleted when seen.
   */
  readonly tokenTtl?: number | undefined;
  /** Timeout of each server API request. Default 10 000 ms. */
  readonly requestTimeoutMs?: number | undefined;
  readonly webhook?: LiveKitWebhookOptions | undefined;
  /** Background reconciliation with the server; `false` disables it. */
  readonly reconcile?: LiveKitReconcileOptions | false | undefined;
  readonly health?: LiveKitHealthOptions | undefined;
  /** Options of `mode: 'join'`. */
  readonly join?: LiveKitJoinOptions | undefined;
  /**
   * Hand a session out only once the dispatched agent is in its room (needs `agentName`).
   * The server accepts a dispatch even when no worker can take it; with this, such a create
   * fails with `setup_failed` and its slot is freed. Default: off.
   */
  readonly awaitAgent?: LiveKitAwaitAgentOptions | undefined;
}

export interface LiveKitAwaitAgentOptions {
  /** The agent must be in the room within this. Default 10 000 ms. */
  readonly timeoutMs?: number | undefined;
  /** Time between two `ListParticipants` asking whether it is. Default 250 ms. */
  readonly pollIntervalMs?: number | undefined;
}

export interface LiveKitWebhookOptions {
  /** End the session when the caller (identity = userId) leaves the room. Default false. */
  readonly endOnCallerLeft?: boolean | undefined;
  /** Clock skew tolerated when checking a webhook's signature expiry, in seconds. Default 10. */
  readonly clockToleranceSeconds?: number | undefined;
  /** Largest webhook body the node:http handler reads. Default 1 MiB. */
  readonly maxBodyBytes?: number | undefined;
}

export interface LiveKitReconcileOptions {
  /** Time between runs. Default 30 000 ms. */
  readonly intervalMs?: number | undefined;
  /**
   * Delete rooms with our prefix that no session of this backend owns (left by a crashed
   * instance). Safe only when no other live instance creates rooms with the same prefix.
   * Default false: such rooms are only reported.
   */
  readonly deleteUntracked?: boolean | undefined;
}

export interface LiveKitHealthOptions {
  /** Each probe (`GET /`, `ListRooms`) must answer within this. Default 2 000 ms. */
  readonly timeoutMs?: number | undefined;
  /** A check slower than this reports `degraded`. Default 1 000 ms. */
  readonly degradedLatencyMs?: number | undefined;
}

export interface LiveKitJoinOptions {
  /** Identity of the agent participant; at most 256 UTF-8 bytes. Default `'agent'`. */
  readonly identity?: string | undefined;
  /** Display name of the agent participant. Default: none. */
  readonly name?: string | undefined;
  /** Connecting to the room must finish within this, or the create fails. Default 10 000 ms. */
  readonly connectTimeoutMs?: number | undefined;
  /** Sample rate of the published audio track. Default 48 000. */
  readonly sampleRate?: number | undefined;
  /** Channels of the published audio track. Default 1. */
  readonly channels?: number | undefined;
  /** Text stream topic read and answered. Default `'lk.chat'` (LiveKit's chat topic). */
  readonly textTopic?: string | undefined;
  /**
   * `stop()` releases @livekit/rtc-node's native runtime, which otherwise keeps the process
   * alive. Set false when something else in the process uses it (e.g. @livekit/agents).
   * Default true.
   */
  readonly disposeRtcOnStop?: boolean | undefined;
}

/** The validated config, defaults applied. */
export interface LiveKitSettings {
  /** `http(s)://host[:port]`, for the server API and `GET /`. */
  readonly httpUrl: string;
  /** `ws(s)://host[:port]`, handed to participants. */
  readonly wsUrl: string;
  readonly apiKey: string;
  readonly apiSecret: string;
  readonly mode: 'dispatch' | 'join';
  readonly agentName: string | undefined;
  readonly roomPrefix: string;
  readonly emptyTimeout: number | undefined;
  readonly departureTimeout: number | undefined;
  readonly maxParticipants: number | undefined;
  readonly tokenTtl: number;
  readonly requestTimeoutMs: number;
  readonly webhook: {
    readonly endOnCallerLeft: boolean;
    readonly clockToleranceSeconds: number;
    readonly maxBodyBytes: number;
  };
  readonly reconcile:
    | { readonly intervalMs: number; readonly deleteUntracked: boolean }
    | undefined;
  readonly health: { readonly timeoutMs: number; readonly degradedLatencyMs: number };
  readonly join: {
    readonly identity: string;
    readonly name: string | undefined;
    readonly connectTimeoutMs: number;
    readonly sampleRate: number;
    readonly channels: number;
    readonly textTopic: string;
    readonly disposeRtcOnStop: boolean;
  };
  readonly awaitAgent: { readonly timeoutMs: number; readonly pollIntervalMs: number } | undefined;
}

/** The keys `providerConfig` takes. */
export const LIVEKIT_CONFIG_KEYS = [
  'url',
  'apiKey',
  'apiSecret',
  'mode',
  'agentName',
  'roomPrefix',
  'emptyTimeout',
  'departureTimeout',
  'maxParticipants',
  'tokenTtl',
  'requestTimeoutMs',
  'webhook',
  'reconcile',
  'health',
  'join',
  'awaitAgent',
] as const;

/**
 * LiveKit's limits (`limit.max_room_name_length`, `limit.max_participant_identity_length`,
 * their defaults), in UTF-8 bytes as the server counts them. Room names are the prefix plus a
 * 36-character UUID.
 */
const MAX_ROOM_NAME_BYTES = 256;
export const MAX_IDENTITY_BYTES = 256;
const SESSION_ID_LENGTH = 36;
/**
 * The longest `tokenTtl`, in seconds. The token only lets its caller join (the server refreshes
 * a joined participant's), and each ended session is remembered for `tokenTtl` + 60 s to
 * delete rooms its token re-creates.
 */
const MAX_TOKEN_TTL = 3_600;
const uint32 = { min: 0, max: 0xffff_ffff, integer: true } as const;
const roomSeconds = { ...uint32, min: 1 } as const;
const positiveMs = { min: 1 } as const;

/** Validates `providerConfig`, filling url and credentials from `env` when absent. */
export function parseLiveKitConfig(
  raw: unknown,
  env: Readonly<Record<string, string | undefined>> = process.env,
): LiveKitSettings {
  const f = 'providerConfig';
  const value = objectOrUndefined(f, raw) ?? {};
  knownKeys(f, value, LIVEKIT_CONFIG_KEYS);

  const url = stringField(`${f}.url`, value.url ?? nonEmpty(env.LIVEKIT_URL));
  if (url === undefined) {
    throw new ConfigError(`${f}.url`, 'is required (or set LIVEKIT_URL)');
  }
  const { httpUrl, wsUrl } = parseServerUrl(`${f}.url`, url);
  const apiKey = stringField(`${f}.apiKey`, value.apiKey ?? nonEmpty(env.LIVEKIT_API_KEY));
  if (apiKey === undefined) {
    throw new ConfigError(`${f}.apiKey`, 'is required (or set LIVEKIT_API_KEY)');
  }
  refuseSurroundingWhitespace(`${f}.apiKey`, apiKey);
  const apiSecret = secretField(`${f}.apiSecret`, value.apiSecret, env.LIVEKIT_API_SECRET);
  refuseSurroundingWhitespace(`${f}.apiSecret`, apiSecret);

  const mode = oneOf(`${f}.mode`, value.mode, ['dispatch', 'join']) ?? 'dispatch';
  const agentName = stringField(`${f}.agentName`, value.agentName);
  if (mode === 'join' && agentName !== undefined) {
    throw new ConfigError(
      `${f}.agentName`,
      "must not be set with mode 'join': this process is the agent, a dispatched one would join too",
    );
  }
  const roomPrefix = stringField(`${f}.roomPrefix`, value.roomPrefix) ?? 'va-';
  const maxPrefixBytes = MAX_ROOM_NAME_BYTES - SESSION_ID_LENGTH;
  if (Buffer.byteLength(roomPrefix, 'utf8') > maxPrefixBytes || /\s/.test(roomPrefix)) {
    throw new ConfigError(
      `${f}.roomPrefix`,
      `must have no whitespace and at most ${maxPrefixBytes} bytes in UTF-8, got ${describeValue(roomPrefix)}`,
    );
  }

  const awaitAgent = parseAwaitAgent(`${f}.awaitAgent`, value.awaitAgent);
  if (awaitAgent !== undefined && agentName === undefined) {
    throw new ConfigError(`${f}.awaitAgent`, 'needs agentName: it waits for the dispatched agent');
  }

  const emptyTimeout = roomTimeout(`${f}.emptyTimeout`, value.emptyTimeout);
  const tokenTtl = numberField(
    `${f}.tokenTtl`,
    value.tokenTtl,
    { min: 1, max: MAX_TOKEN_TTL, integer: true },
    Math.min(600, emptyTimeout ?? 600),
  );
  if (emptyTimeout !== undefined && tokenTtl > emptyTimeout) {
    throw new ConfigError(
      `${f}.tokenTtl`,
      `must be at most emptyTimeout (${emptyTimeout}), got ${tokenTtl}: a caller joining after the room closed would re-create it with no session`,
    );
  }

  return {
    httpUrl,
    wsUrl,
    apiKey,
    apiSecret,
    mode,
    agentName,
    roomPrefix,
    emptyTimeout,
    departureTimeout: roomTimeout(`${f}.departureTimeout`, value.departureTimeout),
    maxParticipants: numberField(`${f}.maxParticipants`, value.maxParticipants, uint32),
    tokenTtl,
    requestTimeoutMs: durationField(
      `${f}.requestTimeoutMs`,
      value.requestTimeoutMs,
      positiveMs,
      10_000,
    ),
    webhook: parseWebhook(`${f}.webhook`, value.webhook),
    reconcile: parseReconcile(`${f}.reconcile`, value.reconcile),
    health: parseHealth(`${f}.health`, value.health),
    join: parseJoin(`${f}.join`, value.join),
    awaitAgent,
  };
}

function parseAwaitAgent(field: string, raw: unknown): LiveKitSettings['awaitAgent'] {
  const value = objectOrUndefined(field, raw);
  if (value === undefined) return undefined;
  knownKeys(field, value, ['timeoutMs', 'pollIntervalMs']);
  return {
    timeoutMs: durationField(`${field}.timeoutMs`, value.timeoutMs, positiveMs, 10_000),
    pollIntervalMs: durationField(
      `${field}.pollIntervalMs`,
      value.pollIntervalMs,
      { min: 10 },
      250,
    ),
  };
}

/** Accepts ws/wss/http/https; the API speaks http(s), participants connect over ws(s). */
function parseServerUrl(field: string, url: string): { httpUrl: string; wsUrl: string } {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    // Unparsed, its credentials (if any) cannot be told apart: none are quoted.
    throw new ConfigError(
      field,
      `must be a ws://, wss://, http:// or https:// URL, got ${describeValue(withoutCredentials(url))}`,
    );
  }
  const secure = { 'wss:': true, 'https:': true, 'ws:': false, 'http:': false }[parsed.protocol];
  if (secure === undefined) {
    throw new ConfigError(
      field,
      `must use ws, wss, http or https, got ${describeValue(parsed.protocol)}`,
    );
  }
  if (parsed.username !== '' || parsed.password !== '') {
    throw new ConfigError(field, 'must not carry credentials; use apiKey and apiSecret');
  }
  if (parsed.pathname !== '/' || parsed.search !== '' || parsed.hash !== '') {
    // A query or fragment is described, not quoted: a connection URL carries its access token there.
    const extra =
      parsed.search !== '' ? ' with a query' : parsed.hash !== '' ? ' with a fragment' : '';
    throw new ConfigError(
      field,
      `must be the server's address without a path or query, got ${describeValue(`${parsed.origin}${parsed.pathname}`)}${extra}`,
    );
  }
  return {
    httpUrl: `${secure ? 'https' : 'http'}://${parsed.host}`,
    wsUrl: `${secure ? 'wss' : 'ws'}://${parsed.host}`,
  };
}

/**
 * A room timeout in seconds. 0 is refused: LiveKit's CreateRoom reads it as "the server's
 * default", not "at once" nor "never", which is what a user writing 0 means.
 */
function roomTimeout(field: string, value: unknown): number | undefined {
  if (value === 0) {
    throw new ConfigError(
      field,
      "must be >= 1: LiveKit reads 0 as the server's default; leave it unset for that",
    );
  }
  return numberField(field, value, roomSeconds);
}

/**
 * No server key has whitespace around it, so such a credential (often a trailing newline read
 * from a file) could only fail every call with a 401. The value is not quoted: it may be secret.
 */
function refuseSurroundingWhitespace(field: string, value: string): void {
  if (value.trim() !== value) {
    throw new ConfigError(
      field,
      'must not begin or end with whitespace (a trailing newline from a file or a secret store?)',
    );
  }
}

/** Like `stringField`, but never echoes the value: it is a secret. */
function secretField(field: string, value: unknown, fromEnv: string | undefined): string {
  if (value === undefined) {
    const envValue = nonEmpty(fromEnv);
    if (envValue === undefined)
      throw new ConfigError(field, 'is required (or set LIVEKIT_API_SECRET)');
    return envValue;
  }
  if (typeof value !== 'string' || value.length === 0) {
    throw new ConfigError(field, `must be a non-empty string, got ${kindOf(value)}`);
  }
  return value;
}

/** What a value is, without the value itself. */
function kindOf(value: unknown): string {
  if (value === '') return 'an empty string';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value;
}

function parseWebhook(field: string, raw: unknown): LiveKitSettings['webhook'] {
  const value = objectOrUndefined(field, raw) ?? {};
  knownKeys(field, value, ['endOnCallerLeft', 'clockToleranceSeconds', 'maxBodyBytes']);
  return {
    endOnCallerLeft: booleanField(`${field}.endOnCallerLeft`, value.endOnCallerLeft, false),
    clockToleranceSeconds: numberField(
      `${field}.clockToleranceSeconds`,
      value.clockToleranceSeconds,
      { min: 0, max: 300 },
      10,
    ),
    maxBodyBytes: numberField(
      `${field}.maxBodyBytes`,
      value.maxBodyBytes,
      { min: 1024, integer: true },
      1024 * 1024,
    ),
  };
}

function parseReconcile(field: string, raw: unknown): LiveKitSettings['reconcile'] {
  if (raw === false) return undefined;
  const value = objectOrUndefined(field, raw) ?? {};
  knownKeys(field, value, ['intervalMs', 'deleteUntracked']);
  return {
    intervalMs: durationField(`${field}.intervalMs`, value.intervalMs, { min: 100 }, 30_000),
    deleteUntracked: booleanField(`${field}.deleteUntracked`, value.deleteUntracked, false),
  };
}

function parseHealth(field: string, raw: unknown): LiveKitSettings['health'] {
  const value = objectOrUndefined(field, raw) ?? {};
  knownKeys(field, value, ['timeoutMs', 'degradedLatencyMs']);
  return {
    timeoutMs: durationField(`${field}.timeoutMs`, value.timeoutMs, positiveMs, 2_000),
    degradedLatencyMs: numberField(
      `${field}.degradedLatencyMs`,
      value.degradedLatencyMs,
      { min: 0 },
      1_000,
    ),
  };
}

function parseJoin(field: string, raw: unknown): LiveKitSettings['join'] {
  const value = objectOrUndefined(field, raw) ?? {};
  knownKeys(field, value, [
    'identity',
    'name',
    'connectTimeoutMs',
    'sampleRate',
    'channels',
    'textTopic',
    'disposeRtcOnStop',
  ]);
  const identity = stringField(`${field}.identity`, value.identity) ?? 'agent';
  const identityBytes = Buffer.byteLength(identity, 'utf8');
  if (identityBytes > MAX_IDENTITY_BYTES) {
    throw new ConfigError(
      `${field}.identity`,
      `must be at most ${MAX_IDENTITY_BYTES} bytes in UTF-8, got ${identityBytes}`,
    );
  }
  return {
    identity,
    name: stringField(`${field}.name`, value.name),
    connectTimeoutMs: durationField(
      `${field}.connectTimeoutMs`,
      value.connectTimeoutMs,
      positiveMs,
      10_000,
    ),
    sampleRate: numberField(
      `${field}.sampleRate`,
      value.sampleRate,
      { min: 8_000, max: 192_000, integer: true },
      48_000,
    ),
    channels: numberField(
      `${field}.channels`,
      value.channels,
      { min: 1, max: 2, integer: true },
      1,
    ),
    textTopic: stringField(`${field}.textTopic`, value.textTopic) ?? 'lk.chat',
    disposeRtcOnStop: booleanField(`${field}.disposeRtcOnStop`, value.disposeRtcOnStop, true),
  };
}
