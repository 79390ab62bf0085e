import type { FastifyInstance, FastifyRequest } from 'fastify';
import { checkPriority, HttpRefusal, mayAccess, tenantFor } from './auth.js';
import { clientGoneSignal, Handovers } from './delivery.js';
import type { RouteShape } from './gateway.js';
import { noteOf } from './request-notes.js';
import { DEFAULT_TTL_SECONDS, type HeldSlot, type SlotLeases } from './slot-leases.js';

interface AcquireBody {
  readonly tenantId?: string;
  readonly key?: string;
  readonly ttlSeconds?: number;
  readonly priority?: number;
  readonly timeoutMs?: number;
}

interface SlotParams {
  readonly id: string;
}

/** `POST /v1/slots`, `POST /v1/slots/:id/renew`, `DELETE /v1/slots/:id`. */
export function slotRoutes(
  app: FastifyInstance,
  leases: SlotLeases,
  route: (operationId: string) => RouteShape,
): void {
  // A slot taken for a client that hung up before hearing of it is released at once.
  const handovers = new Handovers<HeldSlot>((held) => {
    leases.release(held.id, 'undelivered', () => true);
  });

  app.route({
    ...route('acquireSlot'),
    handler: async (request: FastifyRequest<{ Body: AcquireBody | undefined }>, reply) => {
      const body = request.body ?? {};
      const note = noteOf(request);
      const tenantId = tenantFor(note.caller, body.tenantId);
      note.tenant = tenantId;
      checkPriority(note.caller, body.priority);
      const clientGone = clientGoneSignal(reply.raw);
      const held = await leases.acquire(
        {
          tenantId,
          key: body.key,
          ttlSeconds: body.ttlSeconds ?? DEFAULT_TTL_SECONDS,
          priority: body.priority,
          timeoutMs: body.timeoutMs,
        },
        clientGone,
      );
      handovers.handOver(held, reply.raw, clientGone, () => {
        reply.code(201).header('location', `/v1/slots/${held.id}`).send(describe(held));
      });
      return reply;
    },
  });

  const mayHold = (request: FastifyRequest) => (tenantId: string) => {
    const note = noteOf(request);
    if (!mayAccess(note.caller, tenantId)) return false;
    note.tenant = tenantId;
    return true;
  };

  app.route({
    ...route('renewSlot'),
    handler: async (
      request: FastifyRequest<{ Params: SlotParams; Body: { ttlSeconds?: number } | undefined }>,
    ) => {
      const held = leases.renew(request.params.id, request.body?.ttlSeconds, mayHold(request));
      if (held === undefined) throw noSuchSlot();
      return describe(held);
    },
  });

  app.route({
    ...route('releaseSlot'),
    handler: async (request: FastifyRequest<{ Params: SlotParams }>) => {
      if (!leases.release(request.params.id, 'released', mayHold(request))) throw noSuchSlot();
      return { id: request.params.id, released: true };
    },
  });
}

function noSuchSlot(): HttpRefusal {
  return new HttpRefusal(404, 'not_found', 'no such slot (released, or its lease expired)');
}

function describe(held: HeldSlot): Record<string, unknown> {
  return {
    id: held.id,
    tenantId: held.tenantId,
    ...(held.key === undefined ? {} : { key: held.key }),
    ttlSeconds: held.ttlSeconds,
    expiresAt: new Date(held.expiresAt).toISOString(),
  };
}
