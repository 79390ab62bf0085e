import type { VoiceBackend } from '../iface/backend.js';
import { ConfigError } from '../iface/errors.js';
import type { SessionConfig, VoiceSession } from '../iface/session.js';
import { describeValue, numberField, optionsOrUndefined } from '../internal/validate.js';
import type { Admission } from './admission.js';
import { SESSION_CAP } from './gate/limits.js';
import { type AdmissionOptions, resolveOptions } from './options.js';
import type { CreateSessionOptions } from './types.js';

/** The Go pattern's one-call form, and the way to reach the admission behind it. */
export interface LimitedSessions<A extends Admission> {
  /**
   * The one-call form of the Go pattern `createSessionWithLimit(ctx, backend, cfg, max)`, made
   * race-free: the slot is reserved before the backend is called and released once the
   * session has closed. With a number, requests over the cap are refused at once (`capacity`),
   * as in the Go pattern; pass options to wait in a queue, add tenant caps or smoothing.
   *
   * All calls for the same backend share one `Admission`, created on the first call. Later
   * calls may change `maxConcurrentSessions` and tenant caps (applied at run time); other
   * options are fixed by the first call (a later call's are checked all the same: a bad value
   * or unknown key is a `ConfigError` on any call). Use `admissionFor(backend)` to reach it.
   */
  createSessionWithLimit(
    backend: VoiceBackend,
    sessionConfig: SessionConfig,
    maxOrOptions: number | AdmissionOptions,
    options?: CreateSessionOptions,
  ): Promise<VoiceSession>;
  /** The admission `createSessionWithLimit` uses for `backend`, if it has been called. */
  admissionFor(backend: VoiceBackend): A | undefined;
}

/**
 * Builds `createSessionWithLimit` over admissions made by `admit`: one admission per backend,
 * so concurrent calls share one count (no check-then-create race).
 */
export function limitedSessions<A extends Admission>(
  admit: (backend: VoiceBackend, options: AdmissionOptions) => A,
): LimitedSessions<A> {
  const admissions = new WeakMap<VoiceBackend, A>();

  const admissionWithLimits = (
    backend: VoiceBackend,
    maxOrOptions: number | AdmissionOptions,
  ): A => {
    const options =
      typeof maxOrOptions === 'number' ? { maxConcurrentSessions: maxOrOptions } : maxOrOptions;
    if (options === null || typeof options !== 'object') {
      throw new ConfigError(
        'maxOrOptions',
        `must be a number or AdmissionOptions, got ${describeValue(maxOrOptions)}`,
      );
    }
    // Read below without Admission's checks when it exists already: the same rule as there.
    optionsOrUndefined('maxOrOptions', options);
    const existing = admissions.get(backend);
    if (existing === undefined) {
      const created = admit(backend, options);
      admissions.set(backend, created);
      return created;
    }
    if (existing.state !== 'open') return existing;
    // Checked whole, as the first call's options are, so a bad value or a misspelt key is
    // refused here too and named as the caller wrote it (setLimits would call it `update.…`).
    // Without a cap of its own, the call keeps the one in force; its telemetry options are
    // the first call's concern (the package entry reads them), not checked again.
    resolveOptions(
      {
        ...options,
        maxConcurrentSessions: options.maxConcurrentSessions ?? existing.maxConcurrentSessions,
        telemetry: undefined,
      },
      backend,
    );
    const max = numberField(
      'options.maxConcurrentSessions',
      options.maxConcurrentSessions,
      SESSION_CAP,
    );
    // Compared with the hard cap: the adaptive limit moves on its own and is not a setting.
    const maxChanged = max !== undefined && max !== existing.maxConcurrentSessions;
    if (maxChanged || options.tenants !== undefined) {
      existing.setLimits({
        ...(maxChanged ? { maxConcurrentSessions: max } : {}),
        ...(options.tenants === undefined ? {} : { tenants: options.tenants }),
      });
    }
    return existing;
  };

  return {
    createSessionWithLimit(backend, sessionConfig, maxOrOptions, options = {}) {
      let admission: A;
      try {
        admission = admissionWithLimits(backend, maxOrOptions);
      } catch (error) {
        return Promise.reject(error);
      }
      return admission.createSession(sessionConfig, options);
    },
    admissionFor: (backend) => admissions.get(backend),
  };
}
