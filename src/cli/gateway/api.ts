import * as schema from './schemas.js';

/** One documented answer of a route. */
export interface ApiResponse {
  readonly description: string;
  /** JSON body schema; absent for bodies that are not JSON (`/metrics`). */
  readonly schema?: object;
  /** Default `application/json`. */
  readonly contentType?: string;
  /** Whether the answer carries `Retry-After`. */
  readonly retryAfter?: boolean;
  /** Whether the answer carries `Location`: the path of what it created. */
  readonly location?: boolean;
  /** Whether the answer carries `WWW-Authenticate: Bearer` (RFC 6750). */
  readonly challenge?: boolean;
}

/** A route of the HTTP API: what Fastify registers and what the OpenAPI document describes. */
export interface ApiRoute {
  readonly operationId: string;
  readonly method: 'GET' | 'POST' | 'DELETE';
  /** Fastify's form: `/v1/sessions/:id`. */
  readonly url: string;
  readonly summary: string;
  readonly tags: readonly string[];
  /** Needs a bearer token (when the gateway has tokens). */
  readonly authenticated: boolean;
  readonly body?: object;
  /** The body may be omitted. */
  readonly bodyOptional?: boolean;
  readonly params?: object;
  readonly responses: Readonly<Record<number, ApiResponse>>;
}

const error = (description: string, retryAfter = false): ApiResponse => ({
  description,
  schema: schema.errorBody,
  ...(retryAfter ? { retryAfter } : {}),
});

const BAD_REQUEST = error(
  'The request is malformed (body, path or content type), or its body is not UTF-8.',
);
const BAD_SESSION = error(
  'The request is malformed (body, path or content type), its body is not UTF-8, or the voice ' +
    'backend could never serve the session it asks for (LiveKit: a `userId` over 256 bytes in ' +
    'UTF-8): the message names the field.',
);
const UNAUTHORIZED: ApiResponse = {
  ...error('No bearer token, an unknown one, or more than one `Authorization` header.'),
  challenge: true,
};
const FORBIDDEN = error(
  'The token may not act for the tenant the body names, or a tenant token asked for a ' +
    'priority above 0.',
);
const STEER_FORBIDDEN = error(
  'A tenant token: latency samples steer the limit all tenants share, so only an operator ' +
    'token may report them.',
);
const TOO_MANY = error(
  'A limit is reached (capacity, tenant_capacity, queue_full, queue_timeout): retry after ' +
    '`Retry-After` seconds. Without it the tenant is capped at 0: no retry helps.',
  true,
);
const TOO_LARGE = error('The body is too large.');
/** The router refuses a path id far over the schemas' bound before it is validated. */
const URI_TOO_LONG = error('The path id is over 1024 characters (ids are at most 256).');
const NOT_JSON = error(
  'The body is not empty and not sent as `application/json`, or is sent with a ' +
    '`Content-Encoding` (bodies are taken uncompressed only). An empty body is none, whatever ' +
    'its content type.',
);
/** Fastify reads the body of any request that carries one, also where the route takes none. */
const UNWANTED_BODY = {
  413: error('A body was sent, and is too large.'),
  415: error(
    'A body was sent, not empty and not as `application/json`, or with a `Content-Encoding`.',
  ),
};
const UNAVAILABLE = error(
  'This instance admits no one now (unhealthy, draining, store_unavailable): retry, possibly ' +
    'on another instance.',
  true,
);

export const ROUTES: readonly ApiRoute[] = [
  {
    operationId: 'createSession',
    method: 'POST',
    url: '/v1/sessions',
    summary: 'Admit and create a voice session (waiting in the queue when allowed).',
    tags: ['sessions'],
    authenticated: true,
    body: schema.createSessionBody,
    responses: {
      201: {
        description: 'Created: join with `connection`.',
        schema: schema.createdSession,
        location: true,
      },
      400: BAD_SESSION,
      401: UNAUTHORIZED,
      403: FORBIDDEN,
      409: error('The idempotency key is held by a session of another user.'),
      413: TOO_LARGE,
      415: NOT_JSON,
      429: TOO_MANY,
      502: error('The voice backend failed to create the session.'),
      503: UNAVAILABLE,
      504: error('The voice backend took too long to set the session up.'),
    },
  },
  {
    operationId: 'getSession',
    method: 'GET',
    url: '/v1/sessions/:id',
    summary: "One of the caller's sessions (without its join token).",
    tags: ['sessions'],
    authenticated: true,
    params: schema.params.session,
    responses: {
      200: { description: 'The session.', schema: schema.sessionInfo },
      400: BAD_REQUEST,
      401: UNAUTHORIZED,
      404: error('No such session for this token.'),
      414: URI_TOO_LONG,
    },
  },
  {
    operationId: 'closeSession',
    method: 'DELETE',
    url: '/v1/sessions/:id',
    summary: 'Close a session; its slot is given back.',
    tags: ['sessions'],
    authenticated: true,
    params: schema.params.session,
    responses: {
      200: { description: 'Closed.', schema: schema.closedSession },
      400: BAD_REQUEST,
      401: UNAUTHORIZED,
      404: error('No such session for this token.'),
      414: URI_TOO_LONG,
      ...UNWANTED_BODY,
    },
  },
  {
    operationId: 'acquireSlot',
    method: 'POST',
    url: '/v1/slots',
    summary:
      'Take a slot with a lease, for work counted by admission but run elsewhere (an agent job).',
    tags: ['slots'],
    authenticated: true,
    body: schema.acquireSlotBody,
    bodyOptional: true,
    responses: {
      201: {
        description: 'Held until released or its lease expires.',
        schema: schema.slot,
        location: true,
      },
      400: BAD_REQUEST,
      401: UNAUTHORIZED,
      403: FORBIDDEN,
      409: error('Another slot holds this key.'),
      413: TOO_LARGE,
      415: NOT_JSON,
      429: TOO_MANY,
      503: UNAVAILABLE,
    },
  },
  {
    operationId: 'renewSlot',
    method: 'POST',
    url: '/v1/slots/:id/renew',
    summary: 'Extend a slot lease (the heartbeat of its holder).',
    tags: ['slots'],
    authenticated: true,
    params: schema.params.slot,
    body: schema.renewSlotBody,
    bodyOptional: true,
    responses: {
      200: { description: 'Renewed.', schema: schema.slot },
      400: BAD_REQUEST,
      401: UNAUTHORIZED,
      404: error('No such slot for this token (released, or its lease expired).'),
      414: URI_TOO_LONG,
      413: TOO_LARGE,
      415: NOT_JSON,
    },
  },
  {
    operationId: 'releaseSlot',
    method: 'DELETE',
    url: '/v1/slots/:id',
    summary: 'Release a slot.',
    tags: ['slots'],
    authenticated: true,
    params: schema.params.slot,
    responses: {
      200: { description: 'Released.', schema: schema.releasedSlot },
      400: BAD_REQUEST,
      401: UNAUTHORIZED,
      404: error('No such slot for this token (released, or its lease expired).'),
      414: URI_TOO_LONG,
      ...UNWANTED_BODY,
    },
  },
  {
    operationId: 'reportLatency',
    method: 'POST',
    url: '/v1/latency',
    summary:
      'Report response latencies of live calls, for a limit with a latency objective ' +
      '(`adaptive({ slo })`).',
    tags: ['latency'],
    authenticated: true,
    body: schema.latencyBody,
    responses: {
      202: { description: 'Taken.', schema: schema.latencyAccepted },
      400: BAD_REQUEST,
      401: UNAUTHORIZED,
      403: STEER_FORBIDDEN,
      413: TOO_LARGE,
      415: NOT_JSON,
    },
  },
  {
    operationId: 'liveness',
    method: 'GET',
    url: '/healthz',
    summary: 'Liveness: the process answers.',
    tags: ['operations'],
    authenticated: false,
    responses: { 200: { description: 'Alive.', schema: schema.alive } },
  },
  {
    operationId: 'readiness',
    method: 'GET',
    url: '/readyz',
    summary:
      'Readiness: whether this instance admits (healthy backend, store taking leases, not draining).',
    tags: ['operations'],
    authenticated: false,
    responses: {
      200: { description: 'Admitting.', schema: schema.readiness },
      503: { description: 'Not admitting.', schema: schema.readiness },
    },
  },
  {
    operationId: 'openapi',
    method: 'GET',
    url: '/openapi.json',
    summary: 'This document.',
    tags: ['operations'],
    authenticated: false,
    responses: {
      200: {
        description: 'The OpenAPI 3.1 document.',
        schema: { type: 'object', additionalProperties: true },
      },
    },
  },
];

/** `/metrics`, present when the gateway was started with metrics on this port. */
export const METRICS_ROUTE: ApiRoute = {
  operationId: 'metrics',
  method: 'GET',
  url: '/metrics',
  summary: 'Prometheus metrics (when started with --metrics, and no --metrics-port).',
  tags: ['operations'],
  authenticated: false,
  responses: {
    200: { description: 'Prometheus text exposition format.', contentType: 'text/plain' },
  },
};

/** `/webhooks/livekit`, present with the LiveKit backend. */
export const WEBHOOK_ROUTE: ApiRoute = {
  operationId: 'livekitWebhook',
  method: 'POST',
  url: '/webhooks/livekit',
  summary:
    'LiveKit server webhooks (signed with the API secret; no bearer token). Ends sessions ' +
    'whose room finished.',
  tags: ['operations'],
  authenticated: false,
  responses: {
    200: { description: 'Verified and applied.', schema: schema.webhookOutcome },
    401: error('The signature is missing, forged, stale or does not match the body.'),
    413: error('The body is over 1 MiB.'),
    415: error('The body is sent with a `Content-Encoding`: it is taken uncompressed only.'),
  },
};

/** Every route the document describes, including those only some setups serve. */
export const ALL_ROUTES: readonly ApiRoute[] = [...ROUTES, METRICS_ROUTE, WEBHOOK_ROUTE];

export function apiRoute(operationId: string): ApiRoute {
  const found = ALL_ROUTES.find((route) => route.operationId === operationId);
  if (found === undefined) throw new Error(`no route ${operationId} in the API table`);
  return found;
}
