import { describeTransportFailure, TimeoutError, withTimeout } from '../../backend/http.js';
import { BackendError } from '../../iface/errors.js';
import type { HealthStatus } from '../../iface/health.js';
import type { LiveKitSettings } from './config.js';
import { IS_IT_LIVEKIT } from './errors.js';

export type ProbeResult = Omit<HealthStatus, 'checkedAt' | 'latencyMs'>;

interface Probe {
  readonly ok: boolean;
  readonly latencyMs: number;
  /** Why it failed; never holds a secret. */
  readonly reason?: string;
}

export interface HealthContext {
  readonly httpUrl: string;
  readonly options: LiveKitSettings['health'];
  /** An authenticated, cheap API call (ListRooms); rejects with a BackendError. */
  listRooms(): Promise<unknown>;
}

/**
 * Two probes in parallel, each within `timeoutMs`: `GET /`, which a LiveKit server answers
 * `200 OK` when its node is ready (406 "Not Ready" otherwise), and an authenticated
 * `ListRooms`, which proves our credentials. Either failing is `unhealthy` with the reason;
 * both passing but slower than `degradedLatencyMs` is `degraded`.
 */
export async function probeLiveKit(
  context: HealthContext,
  signal: AbortSignal,
): Promise<ProbeResult> {
  const { timeoutMs, degradedLatencyMs } = context.options;
  const [http, api] = await Promise.all([
    timed('GET /', () => probeHttp(context.httpUrl, timeoutMs, signal)),
    timed('ListRooms', () => withTimeout(context.listRooms(), timeoutMs, signal)),
  ]);
  signal.throwIfAborted();
  const details = { httpLatencyMs: http.latencyMs, apiLatencyMs: api.latencyMs };
  const failures = [http.reason, api.reason].filter((reason) => reason !== undefined);
  if (failures.length > 0) {
    return { healthy: false, status: 'unhealthy', reason: failures.join('; '), details };
  }
  const slowest = Math.max(http.latencyMs, api.latencyMs);
  if (slowest > degradedLatencyMs) {
    return {
      healthy: true,
      status: 'degraded',
      reason: `slow: the server took ${Math.round(slowest)} ms (threshold ${degradedLatencyMs} ms)`,
      details,
    };
  }
  return { healthy: true, status: 'healthy', details };
}

async function probeHttp(httpUrl: string, timeoutMs: number, signal: AbortSignal): Promise<void> {
  const response = await fetch(`${httpUrl}/`, {
    signal: AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]),
  });
  const body = (await response.text()).trim();
  if (response.status === 200 && body === 'OK') return;
  if (response.status === 406) throw new ProbeFailure('answered 406: the server is not ready');
  // A 5xx may come from a proxy in front of a LiveKit server that is down; anything else
  // means another service answers at this address.
  if (response.status >= 500)
    throw new ProbeFailure(`answered ${response.status} instead of 200 OK`);
  throw new ProbeFailure(
    `answered ${response.status} with something other than LiveKit's OK, ${IS_IT_LIVEKIT}`,
  );
}

/** A probe's own finding, already worded for the health reason. */
class ProbeFailure extends Error {}

async function timed(probe: string, run: () => Promise<unknown>): Promise<Probe> {
  const started = performance.now();
  try {
    await run();
    return { ok: true, latencyMs: performance.now() - started };
  } catch (error) {
    return { ok: false, latencyMs: performance.now() - started, reason: describe(probe, error) };
  }
}

/** One probe's failure as a health reason, e.g. `GET / failed: server unreachable (ECONNREFUSED)`. */
function describe(probe: string, error: unknown): string {
  if (error instanceof ProbeFailure || error instanceof TimeoutError) {
    return `${probe} ${error.message}`;
  }
  if (error instanceof BackendError) {
    if (error.code === 'unauthenticated' || error.code === 'permission_denied') {
      return `${probe} refused our credentials, check the API key and secret (${error.message})`;
    }
    return error.message;
  }
  const transport = describeTransportFailure(error);
  if (transport !== undefined) return `${probe} failed: server ${transport.detail}`;
  return `${probe} failed: ${error instanceof Error ? error.name : 'unknown error'}`;
}
