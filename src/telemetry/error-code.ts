import type { AdmissionErrorCode, BackendErrorCode, ConfigError } from '../iface/errors.js';

const CODED = new Set(['AdmissionError', 'BackendError', 'ConfigError']);

/**
 * Every code this package's errors carry, checked against their types so that none is missed.
 * Only these become attribute values: a backend of the user's may throw errors named like ours
 * with codes of its own making (a room id in each), which would make a series apiece.
 */
const KNOWN: Record<AdmissionErrorCode | BackendErrorCode | ConfigError['code'], true> = {
  capacity: true,
  tenant_capacity: true,
  queue_full: true,
  queue_timeout: true,
  aborted: true,
  unhealthy: true,
  draining: true,
  duplicate: true,
  store_unavailable: true,
  provider_not_found: true,
  not_started: true,
  stopped: true,
  unauthenticated: true,
  permission_denied: true,
  not_found: true,
  already_exists: true,
  resource_exhausted: true,
  unavailable: true,
  timeout: true,
  setup_failed: true,
  internal: true,
  invalid_config: true,
};

/**
 * The code of one of this package's errors, `internal` for anything else. Matched by name and
 * shape rather than `instanceof`: the error may come from this package's other build (an
 * application that both imports and requires it), whose classes are copies of these.
 */
export function errorCode(error: unknown): string {
  if (error instanceof Error && CODED.has(error.name)) {
    const { code } = error as Error & { code?: unknown };
    if (typeof code === 'string' && Object.hasOwn(KNOWN, code)) return code;
  }
  return 'internal';
}
