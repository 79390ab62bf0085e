import type { AdmissionErrorCode } from '../iface/errors.js';

/** The message of a refusal: what was full or what stopped the request. */
export function refusalMessage(
  code: AdmissionErrorCode,
  tenantId: string,
  limit: number,
  tenantLimit: number,
): string {
  switch (code) {
    case 'capacity':
      return `all ${limit} session slots are in use`;
    case 'tenant_capacity':
      return `tenant "${tenantId}" holds all ${tenantLimit} of its session slots`;
    case 'queue_full':
      return 'the admission queue is full';
    case 'queue_timeout':
      return 'no session slot became free within the wait timeout';
    case 'aborted':
      return 'the request was aborted before it was admitted';
    case 'unhealthy':
      return 'the voice backend is unhealthy; not admitting sessions';
    case 'draining':
      return 'admission is draining and accepts no new sessions';
    case 'duplicate':
      return 'the idempotency key is already in use';
    case 'store_unavailable':
      return 'the capacity store could not be reached';
  }
}
