import {
  BaseBackend,
  type OpenedSession,
  type OpenSessionRequest,
} from '../src/backend/base-backend.js';
import type { HealthStatus } from '../src/iface/health.js';
import type { ConnectionInfo } from '../src/iface/session.js';

const teardown = (): Promise<void> => Promise.resolve();

/** A backend whose setups and teardowns cost nothing: what is left is bookkeeping overhead. */
export class ZeroCostBackend extends BaseBackend<ConnectionInfo> {
  readonly provider = 'zero-cost';

  constructor() {
    super({});
  }

  protected openSession(request: OpenSessionRequest): Promise<OpenedSession<ConnectionInfo>> {
    return Promise.resolve({
      connection: { url: 'bench://zero-cost', roomName: request.id, token: 'bench' },
      teardown,
    });
  }

  protected probeHealth(): Promise<Omit<HealthStatus, 'checkedAt' | 'latencyMs'>> {
    return Promise.resolve({ healthy: true, status: 'healthy' });
  }
}
