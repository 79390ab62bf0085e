import type { VoiceBackend } from '../iface/backend.js';
import type { AdmissionEvents } from './events.js';
import type { AdmissionTracer } from './tracer.js';
import type { AdmissionStats } from './types.js';

/** What an instrumentation may observe of an admission: its events and its stats. */
export interface ObservedAdmission {
  readonly backend: Pick<VoiceBackend, 'provider'>;
  on<K extends keyof AdmissionEvents>(
    event: K,
    listener: (payload: AdmissionEvents[K]) => void,
  ): () => void;
  stats(): AdmissionStats;
  /** The cap in force for `tenantId` (`Infinity` when none), whether it holds slots or not. */
  tenantLimit(tenantId: string): number;
}

/** Observers attached to one admission: a tracer for its spans, and how to stop observing. */
export interface Attached {
  readonly tracer: AdmissionTracer | undefined;
  readonly detach: () => void;
}

/**
 * What reports an admission's metrics and spans, handed to it in its options (`telemetry`).
 * Admission knows nothing of OpenTelemetry: `openTelemetry()` (voice-admission/telemetry)
 * implements this, and the package entry's `Admission` uses it by default.
 */
export interface Instrumentation {
  attach(admission: ObservedAdmission): Attached;
}
