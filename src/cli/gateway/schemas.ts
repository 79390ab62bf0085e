import { MAX_LATENCY_MS } from '../../admission/adaptive/slo-limit.js';
import { MAX_IDEMPOTENCY_KEY_LENGTH, MAX_USER_ID_LENGTH } from '../../internal/session-config.js';
import { MAX_TENANT_ID_LENGTH } from '../../internal/tenant-id.js';
import { WEBHOOK_ACTIONS } from '../../providers/livekit/webhooks.js';

/*
 * The JSON Schemas of the HTTP API: Fastify validates requests and serializes responses with
 * them, and the OpenAPI document (openapi.ts) is built from them, so the two cannot disagree.
 * They use only keywords that mean the same in draft-07 (Fastify's validator) and in the
 * JSON Schema 2020-12 dialect of OpenAPI 3.1.
 */

/**
 * Printable text: no control characters, C0, DEL or C1 (so no ANSI escapes, 7-bit or 8-bit,
 * and no NEL, which some log viewers take for a line break), and no lone surrogate (matched
 * as a Unicode pattern, a surrogate pair is one character outside the class): encoded, it
 * becomes U+FFFD, so two such ids would be one.
 */
const PRINTABLE = '^[^\\u0000-\\u001f\\u007f-\\u009f\\ud800-\\udfff]+$';

const id = (description: string, maxLength: number) =>
  ({ type: 'string', minLength: 1, maxLength, pattern: PRINTABLE, description }) as const;

export const tenantId = id(
  'Tenant the request acts for. A tenant token may only name its own tenant (or omit it); ' +
    'an operator token may name any, and `default` is used when omitted.',
  MAX_TENANT_ID_LENGTH,
);

export const errorBody = {
  type: 'object',
  required: ['error'],
  additionalProperties: false,
  properties: {
    error: {
      type: 'object',
      required: ['code', 'message'],
      additionalProperties: false,
      properties: {
        code: {
          type: 'string',
          description:
            'Machine-readable reason: an admission refusal code (capacity, tenant_capacity, ' +
            'queue_full, queue_timeout, unhealthy, draining, duplicate, store_unavailable), a ' +
            'backend error code, or bad_request, unauthorized, forbidden, not_found, ' +
            'method_not_allowed, request_timeout, payload_too_large, uri_too_long, ' +
            'unsupported_media_type, ' +
            'headers_too_large, internal.',
        },
        message: { type: 'string' },
        retryAfterMs: {
          type: 'number',
          minimum: 0,
          description: 'When retrying can succeed, how long to wait first.',
        },
        tenantId: { type: 'string' },
      },
    },
  },
} as const;

/** Path parameters naming one resource by its `id`. */
const idParams = (description: string, maxLength: number) =>
  ({
    type: 'object',
    required: ['id'],
    additionalProperties: false,
    properties: { id: id(description, maxLength) },
  }) as const;

export const createSessionBody = {
  type: 'object',
  required: ['userId'],
  additionalProperties: false,
  properties: {
    userId: id(
      'The caller this session is for. The voice backend may allow less (LiveKit: at most 256 ' +
        "bytes in UTF-8, and not its agent participant's identity): 400.",
      MAX_USER_ID_LENGTH,
    ),
    tenantId,
    idempotencyKey: id(
      'Makes creation idempotent per tenant: while a session made with this key is being set ' +
        'up or open, the same user asking again gets that session; another user gets 409.',
      MAX_IDEMPOTENCY_KEY_LENGTH,
    ),
    metadata: {
      type: 'object',
      description:
        'Free-form JSON passed to the provider (LiveKit: room metadata), nested at most 64 ' +
        'levels deep, with at most 100,000 values (object entries and array items) and ' +
        '1,000,000 characters of keys and strings.',
    },
    priority: {
      type: 'integer',
      minimum: -100,
      maximum: 100,
      description:
        'Higher is served first from the queue, before other tenants; above 0 for operator ' +
        'tokens only (a tenant token may lower its own requests). Default 0.',
    },
    timeoutMs: {
      type: 'number',
      minimum: 0,
      maximum: 600_000,
      description: 'Longest wait in the queue; 0 refuses instead of waiting.',
    },
  },
} as const;

const sessionProperties = {
  id: { type: 'string' },
  provider: { type: 'string', description: '`livekit` or `simulated`.' },
  tenantId: { type: 'string' },
  userId: { type: 'string' },
  state: { type: 'string', enum: ['active', 'closing', 'closed'] },
  createdAt: { type: 'number', description: 'Epoch milliseconds.' },
} as const;

/** A session as the API shows it; `connection` differs between creation and later reads. */
const session = <Connection extends { readonly properties: object }>(connection: Connection) =>
  ({
    type: 'object',
    required: ['id', 'provider', 'tenantId', 'userId', 'state', 'createdAt', 'connection'],
    additionalProperties: false,
    properties: { ...sessionProperties, connection },
  }) as const;

export const createdSession = session({
  type: 'object',
  required: ['url', 'roomName', 'token'],
  additionalProperties: false,
  description: 'How the caller joins. The token is given only in this response.',
  properties: {
    url: { type: 'string' },
    roomName: { type: 'string' },
    token: { type: 'string', description: 'Join token for the caller (a LiveKit JWT).' },
  },
} as const);

export const sessionInfo = session({
  type: 'object',
  required: ['url', 'roomName'],
  additionalProperties: false,
  properties: { url: { type: 'string' }, roomName: { type: 'string' } },
} as const);

export const closedSession = {
  type: 'object',
  required: ['id', 'reason', 'endedAt'],
  additionalProperties: false,
  properties: {
    id: { type: 'string' },
    reason: { type: 'string', description: 'Why the session ended (`closed` when by this call).' },
    endedAt: { type: 'number', description: 'Epoch milliseconds.' },
  },
} as const;

const ttlSeconds = {
  type: 'integer',
  minimum: 1,
  maximum: 3_600,
  description:
    'Lease length: the slot is released this long after it was taken or last renewed. ' +
    'Default 60.',
} as const;

export const acquireSlotBody = {
  type: 'object',
  additionalProperties: false,
  properties: {
    tenantId,
    key: id(
      'What the slot is for, e.g. a LiveKit job id. While a slot holds a key, another request ' +
        'with the same key (same tenant) is refused with 409.',
      256,
    ),
    ttlSeconds,
    priority: createSessionBody.properties.priority,
    timeoutMs: createSessionBody.properties.timeoutMs,
  },
} as const;

export const renewSlotBody = {
  type: 'object',
  additionalProperties: false,
  properties: { ttlSeconds },
} as const;

export const slot = {
  type: 'object',
  required: ['id', 'tenantId', 'ttlSeconds', 'expiresAt'],
  additionalProperties: false,
  properties: {
    id: { type: 'string' },
    tenantId: { type: 'string' },
    key: { type: 'string' },
    ttlSeconds: { type: 'integer' },
    expiresAt: {
      type: 'string',
      description: 'ISO 8601 time at which the slot is released unless renewed before.',
    },
  },
} as const;

export const releasedSlot = {
  type: 'object',
  required: ['id', 'released'],
  additionalProperties: false,
  properties: { id: { type: 'string' }, released: { type: 'boolean', const: true } },
} as const;

export const alive = {
  type: 'object',
  required: ['status'],
  additionalProperties: false,
  properties: { status: { type: 'string', const: 'alive' } },
} as const;

export const readiness = {
  type: 'object',
  required: ['ready', 'state', 'store', 'health', 'active', 'queued', 'limit'],
  additionalProperties: false,
  properties: {
    ready: { type: 'boolean' },
    state: { type: 'string', enum: ['open', 'draining', 'drained'] },
    store: {
      type: 'string',
      enum: ['available', 'unavailable'],
      description:
        'Whether the capacity store takes leases (with --redis-url, Redis answers and takes writes).',
    },
    health: { type: 'string', enum: ['healthy', 'degraded', 'unhealthy', 'unknown'] },
    active: { type: 'integer', description: 'Slots held by this instance.' },
    queued: { type: 'integer' },
    limit: { type: 'integer' },
  },
} as const;

export const webhookOutcome = {
  type: 'object',
  required: ['event', 'action'],
  additionalProperties: false,
  properties: {
    event: { type: 'string' },
    roomName: { type: 'string' },
    sessionId: { type: 'string' },
    action: { type: 'string', enum: WEBHOOK_ACTIONS },
  },
} as const;

export const params = {
  session: idParams('Session id, as returned by `POST /v1/sessions`.', 256),
  slot: idParams('Slot id, as returned by `POST /v1/slots`.', 64),
} as const;

export const latencyBody = {
  type: 'object',
  required: ['samplesMs'],
  additionalProperties: false,
  properties: {
    tenantId,
    samplesMs: {
      type: 'array',
      minItems: 1,
      maxItems: 1_000,
      items: { type: 'number', minimum: 0, maximum: MAX_LATENCY_MS },
      description:
        "Response latencies of live calls, in ms: for each turn, end of the caller's speech " +
        "to the agent's first audio (end-of-utterance delay + LLM time to first token + TTS " +
        'time to first byte).',
    },
  },
} as const;

export const latencyAccepted = {
  type: 'object',
  required: ['accepted', 'steering'],
  additionalProperties: false,
  properties: {
    accepted: { type: 'integer', description: 'Samples taken.' },
    steering: {
      type: 'boolean',
      description:
        'Whether the samples steer the limit (it has a latency objective); when false they ' +
        'are validated and dropped.',
    },
  },
} as const;
