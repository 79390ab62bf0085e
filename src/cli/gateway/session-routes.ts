import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Admission, VoiceSession } from '../../index.js';
import { checkPriority, HttpRefusal, mayAccess, tenantFor } from './auth.js';
import { clientGoneSignal, Handovers } from './delivery.js';
import type { RouteShape } from './gateway.js';
import { noteOf } from './request-notes.js';

interface CreateSessionBody {
  readonly userId: string;
  readonly tenantId?: string;
  readonly idempotencyKey?: string;
  readonly metadata?: Record<string, unknown>;
  readonly priority?: number;
  readonly timeoutMs?: number;
}

interface SessionParams {
  readonly id: string;
}

/**
 * `POST /v1/sessions`, `GET` and `DELETE /v1/sessions/:id`. A session created for a client
 * that hung up before it could be told about it is closed, so nothing is held for nobody.
 */
export function sessionRoutes(
  app: FastifyInstance,
  admission: Admission,
  route: (operationId: string) => RouteShape,
): void {
  const handovers = new Handovers<VoiceSession>((session) => {
    app.log.info(
      { session: session.id, tenant: session.tenantId },
      'session closed: its client left before receiving it',
    );
    void session.close('aborted');
  });

  app.route({
    ...route('createSession'),
    handler: async (request: FastifyRequest<{ Body: CreateSessionBody }>, reply) => {
      const body = request.body;
      const note = noteOf(request);
      const tenantId = tenantFor(note.caller, body.tenantId);
      note.tenant = tenantId;
      checkPriority(note.caller, body.priority);
      // The client hanging up abandons the creation (the slot is given back, the backend's
      // create aborted); a session that is ready anyway is closed by the handover.
      const clientGone = clientGoneSignal(reply.raw);
      const session = await admission.createSession(
        {
          userId: body.userId,
          tenantId,
          ...(body.idempotencyKey === undefined ? {} : { idempotencyKey: body.idempotencyKey }),
          ...(body.metadata === undefined ? {} : { metadata: body.metadata }),
        },
        {
          signal: clientGone,
          ...(body.priority === undefined ? {} : { priority: body.priority }),
          ...(body.timeoutMs === undefined ? {} : { timeoutMs: body.timeoutMs }),
        },
      );
      handovers.handOver(session, reply.raw, clientGone, () => {
        reply
          .code(201)
          .header('location', `/v1/sessions/${encodeURIComponent(session.id)}`)
          .send(describe(session, true));
      });
      return reply;
    },
  });

  const owned = (request: FastifyRequest<{ Params: SessionParams }>): VoiceSession => {
    const note = noteOf(request);
    const session = admission.backend.getSession(request.params.id);
    // Another tenant's session is as absent as one that never existed.
    if (session === undefined || !mayAccess(note.caller, session.tenantId)) {
      throw new HttpRefusal(404, 'not_found', 'no such session');
    }
    note.tenant = session.tenantId;
    return session;
  };

  app.route({
    ...route('getSession'),
    handler: async (request: FastifyRequest<{ Params: SessionParams }>) =>
      describe(owned(request), false),
  });

  app.route({
    ...route('closeSession'),
    handler: async (request: FastifyRequest<{ Params: SessionParams }>) => {
      const session = owned(request);
      const end = await session.close();
      return { id: session.id, reason: end.reason, endedAt: end.endedAt };
    },
  });
}

/** The session as its caller needs it; the join token only when it was just created. */
function describe(session: VoiceSession, withToken: boolean): Record<string, unknown> {
  const { url, roomName, token } = session.connection;
  return {
    id: session.id,
    provider: session.provider,
    tenantId: session.tenantId,
    userId: session.userId,
    state: session.state,
    createdAt: session.createdAt,
    connection: withToken ? { url, roomName, token } : { url, roomName },
  };
}
