import type { AdmissionErrorCode } from '../iface/errors.js';
import { callerValue, warnOfListener } from '../internal/emitter.js';

/** How one admission ended, as recorded on its span. */
export type AdmissionOutcome =
  | 'admitted'
  /** An idempotent request got the session another request created. */
  | 'joined'
  /** A slot was granted but the backend failed to create the session. */
  | 'create_failed'
  | AdmissionErrorCode;

export interface AdmissionSpanInfo {
  readonly tenantId: string;
  readonly userId: string;
}

export interface AdmissionSpanResult {
  readonly outcome: AdmissionOutcome;
  /** Time spent waiting for a slot. */
  readonly waitedMs: number;
  /** Slots held right after the decision. */
  readonly active: number;
  readonly error?: unknown;
  readonly sessionId?: string | undefined;
}

/** One admission's span, opened before the decision and ended once with its outcome. */
export interface AdmissionSpan {
  /** Runs the backend's create inside this span's context, so it nests as a child. */
  runCreate<T>(create: () => Promise<T>): Promise<T>;
  end(result: AdmissionSpanResult): void;
}

/**
 * Span hooks. Admission has no tracing dependency of its own: the telemetry module implements
 * this with OpenTelemetry, and without a tracer admission does no tracing work at all.
 */
export interface AdmissionTracer {
  startAdmission(info: AdmissionSpanInfo): AdmissionSpan;
}

const UNTRACED: AdmissionSpan = { runCreate: (create) => create(), end: () => undefined };

/**
 * `tracer` made safe for admission: one of the caller's that throws costs no caller anything
 * (its error is a `VoiceAdmissionListenerWarning`), and the session always comes from the
 * backend's create, run once, whatever `runCreate` does with it. The create handed to a span's
 * `runCreate` must answer with a promise and never throw: the session flow's does (it wraps
 * the backend's `createSession` in one), so it is called as it is.
 */
export function guardTracer(tracer: AdmissionTracer | undefined): AdmissionTracer | undefined {
  if (tracer === undefined) return undefined;
  return {
    startAdmission: (info) => {
      const span = callerValue(() => tracer.startAdmission(info));
      return span === undefined ? UNTRACED : guardSpan(span);
    },
  };
}

function guardSpan(span: AdmissionSpan): AdmissionSpan {
  return {
    runCreate<T>(create: () => Promise<T>): Promise<T> {
      let created: Promise<T> | undefined;
      const createOnce = (): Promise<T> => {
        created ??= create();
        return created;
      };
      return new Promise((resolve) => resolve(span.runCreate(createOnce))).then(
        createOnce,
        (error: unknown) => {
          // After create ran, this is its own failure passed on: createOnce rejects with it.
          if (created === undefined) warnOfListener(error);
          return createOnce();
        },
      );
    },
    end: (result) => callerValue(() => span.end(result)),
  };
}
