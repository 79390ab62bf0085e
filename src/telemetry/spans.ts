import { context, diag, type Span, SpanStatusCode, type Tracer, trace } from '@opentelemetry/api';
import type {
  AdmissionSpan,
  AdmissionSpanInfo,
  AdmissionSpanResult,
  AdmissionTracer,
} from '../admission/tracer.js';
import { redact } from '../backend/redact.js';
import { messageOf } from '../internal/thrown.js';
import { ATTRIBUTE } from './attributes.js';
import { errorCode } from './error-code.js';
import type { TenantLabels } from './tenant-labels.js';

export const ADMISSION_SPAN = 'create_session_with_limit';
export const CREATE_SPAN = 'voice.backend.create_session';

/**
 * Spans for admissions: `create_session_with_limit` around each one, with the backend's create
 * as its child. Attributes carry the tenant (bounded like the metrics), the outcome, the slots
 * held and the queue wait; never a token or secret, and the user id only when asked for.
 */
export class OtelAdmissionTracer implements AdmissionTracer {
  readonly #tracer: Tracer;
  readonly #labels: TenantLabels;
  readonly #recordUserId: boolean;

  constructor(tracer: Tracer, labels: TenantLabels, recordUserId: boolean) {
    this.#tracer = tracer;
    this.#labels = labels;
    this.#recordUserId = recordUserId;
  }

  startAdmission(info: AdmissionSpanInfo): AdmissionSpan {
    const attributes = {
      [ATTRIBUTE.tenant]: this.#labels.label(info.tenantId),
      ...(this.#recordUserId ? { 'enduser.id': info.userId } : {}),
    };
    const span = guarded(() => this.#tracer.startSpan(ADMISSION_SPAN, { attributes }));
    return span === undefined ? UNTRACED : new OtelAdmissionSpan(this.#tracer, span);
  }
}

/** What an admission runs with when its tracer failed to start a span. */
const UNTRACED: AdmissionSpan = { runCreate: (create) => create(), end: () => undefined };

/**
 * Runs a call into the tracer. A tracer that throws must cost no caller its session, nor leave
 * one waiting for an answer: its error goes to OpenTelemetry's `diag` logger, as the SDK's own
 * do, and the admission goes on without that span.
 */
function guarded<T>(call: () => T): T | undefined {
  try {
    return call();
  } catch (error) {
    diag.error('voice-admission: the tracer failed, going on without the span', error);
    return undefined;
  }
}

class OtelAdmissionSpan implements AdmissionSpan {
  readonly #tracer: Tracer;
  readonly #span: Span;

  constructor(tracer: Tracer, span: Span) {
    this.#tracer = tracer;
    this.#span = span;
  }

  runCreate<T>(create: () => Promise<T>): Promise<T> {
    const parent = trace.setSpan(context.active(), this.#span);
    const child = guarded(() => this.#tracer.startSpan(CREATE_SPAN, undefined, parent));
    if (child === undefined) return create();
    return context.with(trace.setSpan(parent, child), create).then(
      (value) => {
        guarded(() => child.end());
        return value;
      },
      (error: unknown) => {
        guarded(() => {
          recordError(child, error);
          child.end();
        });
        throw error;
      },
    );
  }

  end(result: AdmissionSpanResult): void {
    guarded(() => {
      this.#span.setAttributes({
        [ATTRIBUTE.outcome]: result.outcome,
        'voice.backend.active_sessions': result.active,
        'voice.admission.queue_wait_ms': result.waitedMs,
        ...(result.sessionId === undefined ? {} : { 'voice.session.id': result.sessionId }),
      });
      if (result.error !== undefined) recordError(this.#span, result.error);
      this.#span.end();
    });
  }
}

/**
 * Records an error with its code. A backend's message may quote a URL with its password or a
 * token, and spans leave for another system, so the message is redacted first.
 */
function recordError(span: Span, error: unknown): void {
  const code = errorCode(error);
  span.setAttribute(ATTRIBUTE.errorType, code);
  span.recordException(
    error instanceof Error
      ? { name: error.name, message: redact(error.message) }
      : { name: 'Error', message: redact(messageOf(error)) },
  );
  span.setStatus({ code: SpanStatusCode.ERROR, message: code });
}
