import type { VoiceBackend } from '../iface/backend.js';
import { ConfigError } from '../iface/errors.js';
import type { SessionConfig, VoiceSession } from '../iface/session.js';
import { describeValue } from '../internal/validate.js';
import { Admission } from './admission.js';
import type { AdmissionOptions } from './options.js';
import type { CreateSessionOptions } from './types.js';

/** One admission per backend, so concurrent calls share one count (no check-then-create race). */
const admissions = new WeakMap<VoiceBackend, Admission>();

/**
 * The one-call form of the Go pattern `createSessionWithLimit(ctx, backend, cfg, max)`, made
 * race-free: the slot is reserved before the backend is called and released when the session
 * ends. With a number, requests over the cap are refused at once (`capacity`), as in the Go
 * pattern; pass options to wait in a queue, add tenant caps or smoothing.
 *
 * All calls for the same backend share one `Admission`, created on the first call. Later calls
 * may change `maxConcurrentSessions` and tenant caps (applied at run time); other options are
 * fixed by the first call. Use `admissionFor(backend)` to reach it (stats, events, drain).
 */
export function createSessionWithLimit(
  backend: VoiceBackend,
  sessionConfig: SessionConfig,
  maxOrOptions: number | AdmissionOptions,
  options: CreateSessionOptions = {},
): Promise<VoiceSession> {
  let admission: Admission;
  try {
    admission = admissionWithLimits(backend, maxOrOptions);
  } catch (error) {
    return Promise.reject(error);
  }
  return admission.createSession(sessionConfig, options);
}

/** The admission `createSessionWithLimit` uses for `backend`, if it has been called. */
export function admissionFor(backend: VoiceBackend): Admission | undefined {
  return admissions.get(backend);
}

function admissionWithLimits(
  backend: VoiceBackend,
  maxOrOptions: number | AdmissionOptions,
): Admission {
  const options: AdmissionOptions =
    typeof maxOrOptions === 'number' ? { maxConcurrentSessions: maxOrOptions } : maxOrOptions;
  if (options === null || typeof options !== 'object') {
    throw new ConfigError(
      'maxOrOptions',
      `must be a number or AdmissionOptions, got ${describeValue(maxOrOptions)}`,
    );
  }
  const existing = admissions.get(backend);
  if (existing === undefined) {
    const created = new Admission(backend, options);
    admissions.set(backend, created);
    return created;
  }
  if (existing.state !== 'open') return existing;
  const changed = options.maxConcurrentSessions !== existing.limit || options.tenants !== undefined;
  if (changed) {
    existing.setLimits(
      options.tenants === undefined
        ? { maxConcurrentSessions: options.maxConcurrentSessions }
        : { maxConcurrentSessions: options.maxConcurrentSessions, tenants: options.tenants },
    );
  }
  return existing;
}
