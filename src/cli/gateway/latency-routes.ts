import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Admission } from '../../admission/admission.js';
import { checkMaySteer, tenantFor } from './auth.js';
import type { RouteShape } from './gateway.js';
import { noteOf } from './request-notes.js';

interface LatencyBody {
  readonly tenantId?: string;
  readonly samplesMs: readonly number[];
}

/** `POST /v1/latency`: turn latencies from workers in any language, for the latency objective. */
export function latencyRoutes(
  app: FastifyInstance,
  admission: Admission,
  route: (operationId: string) => RouteShape,
): void {
  app.route({
    ...route('reportLatency'),
    handler: async (request: FastifyRequest<{ Body: LatencyBody }>, reply) => {
      const note = noteOf(request);
      const tenantId = tenantFor(note.caller, request.body.tenantId);
      note.tenant = tenantId;
      checkMaySteer(note.caller);
      let steering = false;
      for (const ms of request.body.samplesMs)
        steering = admission.observeLatency(ms, { tenantId });
      return reply.code(202).send({ accepted: request.body.samplesMs.length, steering });
    },
  });
}
