export * from './adaptive/index.js';
export { Admission } from './admission.js';
export { type DrainOnSignalsOptions, drainOnSignals } from './drain-on-signals.js';
export type { AdmissionEvents, DequeueOutcome, DrainResult } from './events.js';
export { Slot } from './gate/slot.js';
export type { Attached, Instrumentation, ObservedAdmission } from './instrumentation.js';
export type {
  AdmissionOptions,
  HealthGateOptions,
  QueueOptions,
  SetupOptions,
  TenantLimitsOptions,
} from './options.js';
export type {
  AcquireRequest,
  AcquireResult,
  CapacityStore,
  ClaimResult,
  Lease,
  Refusal,
  RefusalReason,
  StoreUsage,
} from './store/capacity-store.js';
export { isRefusal } from './store/capacity-store.js';
export { MemoryCapacityStore, memoryStore } from './store/memory-store.js';
export * from './store/redis/index.js';
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
