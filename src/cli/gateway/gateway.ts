import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Admission } from '../../admission/admission.js';
import type { VoiceBackend } from '../../iface/backend.js';
import type { VoiceSession } from '../../iface/session.js';
import { toHttpError } from './errors.js';
import { BadRequest, readJsonObject, sendJson } from './http-json.js';
import { parseSessionRequest } from './session-request.js';

type Handler = (request: IncomingMessage, response: ServerResponse) => void;

export interface GatewayOptions {
  readonly admission: Admission;
  readonly backend: VoiceBackend;
  /** Serves `GET /metrics` (the Prometheus exposition), when given. */
  readonly metrics?: Handler;
  /** Serves `POST /webhooks/livekit`, when given (the LiveKit backend's handler). */
  readonly livekitWebhook?: Handler;
  /** Largest accepted request body. Default 16 KiB. */
  readonly maxBodyBytes?: number;
}

/**
 * Admission as an HTTP sidecar: `POST /v1/sessions` creates a session (201) or says why not
 * (429 / 503 / 409 with `Retry-After` and a JSON error code), `DELETE /v1/sessions/:id` closes
 * one, `/healthz` says the process is alive, `/readyz` whether it admits (healthy backend,
 * not draining), `/metrics` and the LiveKit webhook when configured.
 */
export function createGateway(options: GatewayOptions): Server {
  const { admission, backend } = options;
  const maxBodyBytes = options.maxBodyBytes ?? 16_384;

  const createSession = async (
    request: IncomingMessage,
    response: ServerResponse,
  ): Promise<void> => {
    const { config, options: callOptions } = parseSessionRequest(
      await readJsonObject(request, maxBodyBytes),
    );
    // A caller that hangs up stops waiting for a slot (and the slot, if any, is given back).
    const disconnected = new AbortController();
    response.once('close', () => {
      if (!response.writableFinished) disconnected.abort(new Error('the client disconnected'));
    });
    const session = await admission.createSession(config, {
      ...callOptions,
      signal: disconnected.signal,
    });
    sendJson(response, 201, describe(session), {
      location: `/v1/sessions/${encodeURIComponent(session.id)}`,
    });
  };

  const closeSession = async (id: string, response: ServerResponse): Promise<void> => {
    const session = backend.getSession(id);
    if (session === undefined) {
      sendJson(response, 404, {
        error: { code: 'not_found', message: `no session ${JSON.stringify(id)}` },
      });
      return;
    }
    const end = await session.close();
    sendJson(response, 200, { id, reason: end.reason, endedAt: end.endedAt });
  };

  const route = async (request: IncomingMessage, response: ServerResponse): Promise<void> => {
    const path = (request.url ?? '/').split('?')[0]!;
    const method = request.method ?? 'GET';
    if (path === '/v1/sessions' && method === 'POST') return createSession(request, response);
    const sessionPath = /^\/v1\/sessions\/([^/]+)$/.exec(path);
    if (sessionPath !== null && method === 'DELETE')
      return closeSession(decodeURIComponent(sessionPath[1]!), response);
    if (path === '/healthz' && method === 'GET')
      return sendJson(response, 200, { status: 'alive' });
    if (path === '/readyz' && method === 'GET') {
      const stats = admission.stats();
      const ready = stats.admitting;
      return sendJson(response, ready ? 200 : 503, {
        ready,
        state: stats.state,
        health: stats.health?.status ?? 'unknown',
        active: stats.active,
        queued: stats.queued,
        limit: stats.limit,
      });
    }
    if (path === '/metrics' && method === 'GET' && options.metrics !== undefined)
      return options.metrics(request, response);
    if (path === '/webhooks/livekit' && method === 'POST' && options.livekitWebhook !== undefined) {
      return options.livekitWebhook(request, response);
    }
    throw new NotFound(`${method} ${path}`);
  };

  return createServer((request, response) => {
    route(request, response).catch((error: unknown) => {
      if (error instanceof NotFound) {
        sendJson(response, 404, {
          error: { code: 'not_found', message: `no route for ${error.message}` },
        });
        return;
      }
      const { status, headers, body } = toHttpError(error);
      if (status >= 500 && status !== 503 && !(error instanceof BadRequest)) {
        console.error('voice-admission gateway:', error);
      }
      sendJson(response, status, body, headers);
    });
  });
}

class NotFound extends Error {}

/** The session as the caller needs it to join: its id and connection info (token included). */
function describe(session: VoiceSession): Record<string, unknown> {
  return {
    id: session.id,
    provider: session.provider,
    tenantId: session.tenantId,
    userId: session.userId,
    state: session.state,
    createdAt: session.createdAt,
    connection: session.connection,
  };
}
