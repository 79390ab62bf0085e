import type { CreateSessionOptions } from '../../admission/types.js';
import type { SessionConfig } from '../../iface/session.js';
import { knownKeys, numberField, objectOrUndefined, stringField } from '../../internal/validate.js';

const FIELDS = [
  'userId',
  'tenantId',
  'idempotencyKey',
  'metadata',
  'priority',
  'timeoutMs',
  'pipelineType',
] as const;

/** Turns a `POST /v1/sessions` body into a session config and call options (ConfigError if bad). */
export function parseSessionRequest(body: Record<string, unknown>): {
  readonly config: SessionConfig;
  readonly options: Pick<CreateSessionOptions, 'priority' | 'timeoutMs'>;
} {
  knownKeys('body', body, FIELDS);
  const tenantId = stringField('body.tenantId', body.tenantId);
  const idempotencyKey = stringField('body.idempotencyKey', body.idempotencyKey);
  const metadata = objectOrUndefined('body.metadata', body.metadata);
  const pipelineType = body.pipelineType as SessionConfig['pipelineType'];
  const priority = numberField('body.priority', body.priority, {
    integer: true,
    min: -100,
    max: 100,
  });
  const timeoutMs = numberField('body.timeoutMs', body.timeoutMs, { min: 0, max: 600_000 });
  return {
    config: {
      userId: stringField('body.userId', body.userId, true),
      ...(tenantId === undefined ? {} : { tenantId }),
      ...(idempotencyKey === undefined ? {} : { idempotencyKey }),
      ...(metadata === undefined ? {} : { metadata }),
      ...(pipelineType === undefined ? {} : { pipelineType }),
    },
    options: {
      ...(priority === undefined ? {} : { priority }),
      ...(timeoutMs === undefined ? {} : { timeoutMs }),
    },
  };
}
