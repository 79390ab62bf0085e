import { isUtf8 } from 'node:buffer';
import type { IncomingMessage, ServerResponse } from 'node:http';
import Fastify, {
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  LogController,
} from 'fastify';
import {
  type Admission,
  BackendError,
  type WebhookOutcome,
  type WebhookRequest,
} from '../../index.js';
import { ClosableConnections } from '../../internal/closable-connections.js';
import { type ApiRoute, apiRoute } from './api.js';
import { authorizationOf, HttpRefusal, type TokenTable } from './auth.js';
import { onceDone } from './delivery.js';
import { logDrops } from './drop-log.js';
import { answerClientError, NOT_JSON_MESSAGE, toGatewayHttpError } from './errors.js';
import { repeatsAName } from './json-text.js';
import { latencyRoutes } from './latency-routes.js';
import { redactingErrorSerializer } from './log-errors.js';
import { openApiDocument } from './openapi.js';
import { ALIVE, readiness } from './probes.js';
import { noteOf } from './request-notes.js';
import { RouteMethods } from './route-methods.js';
import { sessionRoutes } from './session-routes.js';
import { type HeldSlot, type SlotEnd, SlotLeases } from './slot-leases.js';
import { slotRoutes } from './slot-routes.js';

export type MetricsHandler = (request: IncomingMessage, response: ServerResponse) => void;

export interface GatewayLogOptions {
  /** pino level: `fatal`, `error`, `warn`, `info`, `debug`, `trace` or `silent`. */
  readonly level: string;
  /** Where JSON lines go. Default stdout. */
  readonly stream?: { write(line: string): void };
  /**
   * Strings never written in a logged error (the LiveKit API secret), besides JWTs, URL
   * credentials and `Authorization` credentials, which are always removed.
   */
  readonly secrets?: readonly string[];
}

export interface GatewayOptions {
  readonly admission: Admission;
  /** The accepted bearer tokens; undefined runs the gateway open (every caller is an operator). */
  readonly tokens: TokenTable | undefined;
  readonly log: GatewayLogOptions;
  /** Serves `GET /metrics` (the Prometheus exposition), when given. */
  readonly metrics?: MetricsHandler | undefined;
  /** Serves `POST /webhooks/livekit` with the LiveKit backend's verifier, when given. */
  readonly livekitWebhook?: ((request: WebhookRequest) => Promise<WebhookOutcome>) | undefined;
  /** The version `/openapi.json` states. */
  readonly version: string;
  /** Largest accepted request body, LiveKit webhooks excepted (1 MiB). Default 16 KiB. */
  readonly maxBodyBytes?: number;
  /**
   * Longest a client may take to send a whole request (headers and body), so that slow
   * senders cannot hold connections open. Default 10 s.
   */
  readonly requestTimeoutMs?: number;
  /**
   * Most connections open at once: more are closed as soon as they are accepted, so that
   * clients cannot take every file descriptor the process has (Redis and LiveKit need some).
   * Default none.
   */
  readonly maxConnections?: number;
  /** How often connections closed over `maxConnections` are counted in a log line. Default 10 s. */
  readonly dropsLogIntervalMs?: number;
  /**
   * How long an idle keep-alive connection stays open after its last answer. Behind a load
   * balancer it must outlast the balancer's own idle timeout: a connection the gateway closes
   * while the balancer sends on it fails that request (a 502). Default 72 s.
   */
  readonly keepAliveTimeoutMs?: number;
  /**
   * The `timeoutMs` the admission's drain runs with (serve's `--drain-timeout-ms`): a slot
   * renewed during the drain is answered an expiry no later than the drain's deadline, when
   * slots are taken back. Unknown by default: renewals answer the lease's own end.
   */
  readonly drainTimeoutMs?: number;
}

/** What route modules spread into `app.route()`. */
export interface RouteShape {
  readonly method: string;
  readonly url: string;
  readonly schema: object;
  readonly preValidation?: (request: FastifyRequest) => Promise<void>;
}

/**
 * Largest LiveKit webhook body, as for the backend's own handler (`webhook.maxBodyBytes`).
 * Events carry the room's and participants' metadata, escaped inside their JSON: one about a
 * session whose metadata filled a create body is larger than that body.
 */
const WEBHOOK_MAX_BODY_BYTES = 1_048_576;

/** Connections closed over `maxConnections` are counted in a log line this often. */
const DROPS_LOG_INTERVAL_MS = 10_000;

/** The refusal of a body with an object that names a member twice (the name is not echoed). */
const REPEATED_NAME = 'the body names a key twice in one object';

/** Routes probed every few seconds: their access lines are at debug level. */
const QUIET_ROUTES = new Set(['/healthz', '/readyz', '/metrics']);

/**
 * Admission as an HTTP service on Fastify: sessions and leased slots for callers in any
 * language, authenticated by bearer tokens, with requests validated and responses serialized
 * by the schemas the OpenAPI document is made of, and one JSON access-log line per request.
 * Not listening yet: call `app.listen()`.
 */
export function createGateway(options: GatewayOptions): FastifyInstance {
  const { admission, tokens } = options;
  const requestTimeoutMs = options.requestTimeoutMs ?? 10_000;
  const app = Fastify({
    logger: {
      level: options.log.level,
      ...(options.log.stream === undefined ? {} : { stream: options.log.stream }),
      timestamp: () => `,"time":"${new Date().toISOString()}"`,
      formatters: { level: (label: string) => ({ level: label }) },
      redact: { paths: ['req.headers.authorization', 'headers.authorization'], remove: true },
      // Causes included: a cause's message can quote a request, credentials and all.
      serializers: { err: redactingErrorSerializer(options.log.secrets ?? []) },
    },
    // The access line is ours (logAccess): one per request, including clients that hung up.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: options.maxBodyBytes ?? 16_384,
    keepAliveTimeout: options.keepAliveTimeoutMs ?? 72_000,
    // Fastify's default is no limit: a client trickling its headers or body would hold its
    // connection for ever. Node checks the deadlines every connectionsCheckingInterval.
    requestTimeout: requestTimeoutMs,
    http: {
      headersTimeout: requestTimeoutMs,
      connectionsCheckingInterval: Math.min(1_000, requestTimeoutMs),
      // Node's own refusal has an empty body: the onRequest hook refuses with the API's.
      requireHostHeader: false,
    },
    // Requests too broken to route (malformed, headers too large, too slow) still get the
    // documented error body.
    clientErrorHandler: answerClientError,
    // Path ids are validated by their schemas (up to 256 characters), not cut by the router.
    routerOptions: { maxParamLength: 1_024 },
    // While closing (after the drain), requests still get the API's own answers: 503 draining.
    return503OnClosing: false,
    // Requests are refused, not repaired: no coercion, no silently dropped fields.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, useDefaults: false } },
    frameworkErrors: (error, request, reply) => {
      logAccess(request, reply);
      sendError(request, reply, error);
    },
  });

  // Node keeps the first 2 000 headers and drops the rest, from rawHeaders too: a second
  // Authorization header past them would go unseen (authorizationOf). The 16 KiB header limit
  // bounds their number instead.
  app.server.maxHeadersCount = 0;
  if (options.maxConnections !== undefined) {
    app.server.maxConnections = options.maxConnections;
    logDrops(app, options.maxConnections, options.dropsLogIntervalMs ?? DROPS_LOG_INTERVAL_MS);
  }
  const connections = new ClosableConnections(app.server);
  app.addHook('preClose', async () => connections.close());

  // JSON only: no body is read as text.
  app.removeContentTypeParser('text/plain');
  app.addHook('onRequest', async (request, reply) => {
    logAccess(request, reply);
    if (request.raw.httpVersion === '1.1' && request.headers.host === undefined) {
      // As Node does: a client this broken gets no second request on the connection.
      reply.header('connection', 'close');
      throw new HttpRefusal(400, 'bad_request', 'an HTTP/1.1 request needs a Host header');
    }
  });
  app.setErrorHandler((error, request, reply) => sendError(request, reply, error));
  const methods = new RouteMethods();
  app.addHook('onRoute', (route) => methods.add(route.url, route.method));
  app.setNotFoundHandler((request, reply) => {
    const allowed = methods.of(request.url.split('?')[0]!);
    if (allowed.length === 0) {
      sendError(request, reply, new HttpRefusal(404, 'not_found', 'no such route'));
      return;
    }
    // A known path asked with another method: say which it takes (RFC 9110, 405 and OPTIONS).
    void reply.header('allow', allowed.join(', '));
    if (request.method === 'OPTIONS') {
      void reply.code(204).send();
      return;
    }
    const refusal = `this route takes ${allowed.join(', ')} only`;
    sendError(request, reply, new HttpRefusal(405, 'method_not_allowed', refusal));
  });

  const slots = new SlotLeases(admission, (held: HeldSlot, why: SlotEnd) => {
    app.log.info({ slot: held.id, tenant: held.tenantId, why }, 'slot released');
  });

  const drainTimeoutMs = options.drainTimeoutMs;
  if (drainTimeoutMs !== undefined) {
    admission.on('draining', () => slots.drainsWithin(drainTimeoutMs));
  }

  const route = (operationId: string) => fastifyRoute(apiRoute(operationId));

  // Everything under /v1 needs a token when the gateway has tokens.
  void app.register(async (api) => {
    // An empty JSON body is no body, as for a request without one: optional bodies stay
    // optional for clients that always set the content type, required ones are refused.
    const json = api.getDefaultJsonParser('error', 'error');
    api.removeContentTypeParser('application/json');
    api.addContentTypeParser('application/json', { parseAs: 'buffer' }, (request, body, done) => {
      const bytes = body as Buffer;
      const encoded = encodingRefusal(request);
      if (encoded !== undefined) done(encoded, undefined);
      else if (bytes.length === 0) done(null, undefined);
      // Decoding would replace bad bytes with U+FFFD, making distinct ids (and idempotency
      // keys) equal: "José" and "Josè" sent in Latin-1 would be one user.
      else if (!isUtf8(bytes)) {
        done(new HttpRefusal(400, 'bad_request', 'the body is not valid UTF-8'), undefined);
      } else {
        const text = bytes.toString('utf8');
        json(request, text, (error, parsed) => {
          if (error) done(clearerJsonError(text, error), undefined);
          // JSON.parse keeps the last of a name given twice: a proxy or a log reading the
          // first would have seen another request than the one served.
          else if (repeatsAName(text)) {
            done(new HttpRefusal(400, 'bad_request', REPEATED_NAME), undefined);
          } else done(null, parsed);
        });
      }
    });
    // Any other content type (or none): an empty body is no body here too, since clients
    // and libraries set one by default (fetch sends text/plain); any other is not JSON.
    api.addContentTypeParser('*', { parseAs: 'buffer' }, (request, body, done) => {
      const refusal =
        encodingRefusal(request) ??
        ((body as Buffer).length === 0
          ? undefined
          : new HttpRefusal(415, 'unsupported_media_type', NOT_JSON_MESSAGE));
      done(refusal ?? null, undefined);
    });
    if (tokens !== undefined) {
      api.addHook('onRequest', async (request) => {
        noteOf(request).caller = tokens.authenticate(authorizationOf(request.raw));
      });
    }
    sessionRoutes(api, admission, route);
    slotRoutes(api, slots, route);
    latencyRoutes(api, admission, route);
  });

  app.route({ ...route('liveness'), handler: async () => ALIVE });
  app.route({
    ...route('readiness'),
    handler: async (_request, reply) => {
      const { status, body } = readiness(admission);
      return reply.code(status).send(body);
    },
  });
  const document = openApiDocument(options.version);
  app.route({ ...route('openapi'), handler: async () => document });

  const metrics = options.metrics;
  if (metrics !== undefined) {
    app.route({
      ...route('metrics'),
      handler: (request, reply) => {
        reply.hijack();
        metrics(request.raw, reply.raw);
      },
    });
  }

  const webhook = options.livekitWebhook;
  if (webhook !== undefined) {
    // The signature covers the body's bytes: hand them over unparsed.
    void app.register(async (hooks) => {
      hooks.removeAllContentTypeParsers();
      hooks.addContentTypeParser('*', { parseAs: 'string' }, (request, body, done) => {
        const encoded = encodingRefusal(request);
        if (encoded !== undefined) done(encoded, undefined);
        else done(null, body);
      });
      hooks.route({
        ...route('livekitWebhook'),
        bodyLimit: WEBHOOK_MAX_BODY_BYTES,
        handler: async (request: FastifyRequest<{ Body: string }>, reply) => {
          try {
            return await webhook({
              body: request.body ?? '',
              authorization: request.headers.authorization,
            });
          } catch (error) {
            // A refused signature is the caller's fault (401); anything else is ours.
            if (!(error instanceof BackendError && error.code === 'unauthenticated')) throw error;
            noteOf(request).code = error.code;
            return reply.code(401).send({ error: { code: error.code, message: error.message } });
          }
        },
      });
    });
  }

  app.addHook('onClose', async () => slots.releaseAll());
  return app;
}

/** Fastify's route options for an API route: method, url and the schemas that check it. */
function fastifyRoute(route: ApiRoute): RouteShape {
  const response = Object.fromEntries(
    Object.entries(route.responses)
      .filter(([, r]) => r.schema !== undefined)
      .map(([status, r]) => [status, r.schema]),
  );
  return {
    method: route.method,
    url: route.url,
    schema: {
      ...(route.body === undefined ? {} : { body: route.body }),
      ...(route.params === undefined ? {} : { params: route.params }),
      response,
    },
    // An omitted optional body is validated as the empty object it stands for.
    ...(route.bodyOptional ? { preValidation: emptyBodyIsEmptyObject } : {}),
  };
}

async function emptyBodyIsEmptyObject(request: FastifyRequest): Promise<void> {
  // Only an absent body: a JSON `null` is a body of the wrong type, refused by the schema.
  if (request.body === undefined) request.body = {};
}

/** A content coding the name of which is safe to repeat in an answer (an RFC 9110 token). */
const CODING = /^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,40}$/;

/**
 * The 415 refusal of a body sent with a `Content-Encoding` other than `identity`: the gateway
 * decodes none, and reading compressed bytes as the body would only fail further on.
 */
function encodingRefusal(request: FastifyRequest): HttpRefusal | undefined {
  const header = request.headers['content-encoding'];
  if (header === undefined) return undefined;
  const codings = (Array.isArray(header) ? header.join(',') : header)
    .split(',')
    .map((coding) => coding.trim())
    .filter((coding) => coding !== '' && coding.toLowerCase() !== 'identity');
  if (codings.length === 0) return undefined;
  const named = CODING.test(codings[0]!) ? `Content-Encoding ${codings[0]}` : 'a Content-Encoding';
  return new HttpRefusal(
    415,
    'unsupported_media_type',
    `the body is sent with ${named}: the gateway takes bodies uncompressed only`,
  );
}

function sendError(request: FastifyRequest, reply: FastifyReply, error: unknown): void {
  const { status, headers, body } = toGatewayHttpError(error);
  noteOf(request).code = body.error.code;
  if (status === 500) request.log.error({ err: error }, 'request failed');
  // The answer names the code only: what the backend said is for the operator.
  else if (error instanceof BackendError) request.log.warn({ err: error }, 'backend failed');
  if (reply.sent || reply.raw.destroyed) return;
  void reply.code(status).headers(headers).send(body);
}

/** One line per request, written when its connection is done with it, whatever happened. */
function logAccess(request: FastifyRequest, reply: FastifyReply): void {
  onceDone(reply.raw, () => {
    const note = noteOf(request);
    const path = request.url.split('?')[0]!;
    // 499: the client went away before the response was written (nginx's convention).
    const status = reply.raw.writableFinished ? reply.raw.statusCode : 499;
    const line = {
      method: request.method,
      path,
      status,
      tenant: note.tenant ?? (note.caller.scope === '*' ? undefined : note.caller.scope),
      durationMs: Math.round(reply.elapsedTime * 100) / 100,
      ...(note.code === undefined ? {} : { code: note.code }),
    };
    if (QUIET_ROUTES.has(path)) request.log.debug(line, 'request');
    else request.log.info(line, 'request');
  });
}

/**
 * The parser refuses valid JSON that sets an object's prototype (`__proto__`, or `constructor`
 * holding `prototype`) with the message it gives broken JSON: say which it was.
 */
function clearerJsonError(text: string, error: Error): Error {
  try {
    JSON.parse(text);
  } catch {
    return error;
  }
  return new HttpRefusal(
    400,
    'bad_request',
    'the body may not have a "__proto__" key, nor a "constructor" key holding "prototype"',
  );
}
