export * from './adaptive/index.js';
export { Admission } from './admission.js';
export type {
  AcquireRequest,
  AcquireResult,
  CapacityStore,
  ClaimResult,
  Lease,
  Refusal,
  RefusalReason,
  StoreUsage,
} from './capacity-store.js';
export { isRefusal } from './capacity-store.js';
export { admissionFor, createSessionWithLimit } from './create-session-with-limit.js';
export { type DrainOnSignalsOptions, drainOnSignals } from './drain-on-signals.js';
export type { AdmissionEvents, DequeueOutcome, DrainResult } from './events.js';
export { MemoryCapacityStore, memoryStore } from './memory-store.js';
export type {
  AdmissionOptions,
  HealthGateOptions,
  QueueOptions,
  SetupOptions,
  TenantLimitsOptions,
} from './options.js';
export * from './redis/index.js';
export { Slot } from './slot.js';
export type {
  AdmissionOutcome,
  AdmissionSpan,
  AdmissionSpanInfo,
  AdmissionSpanResult,
  AdmissionTracer,
} from './tracer.js';
export type {
  AcquireOptions,
  AdmissionRefusal,
  AdmissionState,
  AdmissionStats,
  CreateSessionOptions,
  DrainOptions,
  LimitsUpdate,
  SlotRequest,
  TenantStats,
} from './types.js';
