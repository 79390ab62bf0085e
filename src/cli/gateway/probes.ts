import type { Admission } from '../../index.js';

/** What `GET /healthz` answers: the process answers. */
export const ALIVE = { status: 'alive' } as const;

/** What `GET /readyz` answers: 200 while this instance admits (store taking leases), else 503. */
export function readiness(admission: Admission) {
  const stats = admission.stats();
  const ready = stats.admitting && stats.storeAvailable;
  return {
    status: ready ? 200 : 503,
    body: {
      ready,
      state: stats.state,
      store: stats.storeAvailable ? 'available' : 'unavailable',
      health: stats.health?.status ?? 'unknown',
      active: stats.active,
      queued: stats.queued,
      limit: stats.limit,
    },
  } as const;
}
