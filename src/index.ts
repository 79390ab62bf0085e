import { Admission as CoreAdmission } from './admission/admission.js';
import { limitedSessions } from './admission/create-session-with-limit.js';
import type { Instrumentation } from './admission/instrumentation.js';
import type { AdmissionOptions as CoreAdmissionOptions } from './admission/options.js';
import { ProviderRegistry } from './backend/registry.js';
import type { BackendConfig, ProviderFactory, VoiceBackend } from './iface/backend.js';
import { builtinProviders } from './providers/builtin.js';
import type { LiveKitBackend, LiveKitProviderConfig } from './providers/livekit/index.js';
import { openTelemetry } from './telemetry/instrument.js';
import type { TelemetryOptions } from './telemetry/options.js';

export * from './admission/index.js';
export {
  BaseBackend,
  ManagedSession,
  type ManagedSessionInit,
  type OpenedSession,
  type OpenSessionRequest,
  ProviderRegistry,
  type SessionTeardown,
} from './backend/index.js';
export * from './iface/index.js';
export type { Listener, TypedEmitter } from './internal/emitter.js';
// Types only: the LiveKit provider itself loads on first use of createBackend('livekit').
export type {
  AgentParticipant,
  LiveKitBackend,
  LiveKitBackendEvents,
  LiveKitHealthOptions,
  LiveKitJoinOptions,
  LiveKitProviderConfig,
  LiveKitReconcileOptions,
  LiveKitWebhookOptions,
  PcmFrame,
  ProbeResult,
  ReconcileReport,
  RemoteEndSource,
  WebhookAction,
  WebhookOutcome,
  WebhookRequest,
} from './providers/livekit/index.js';
export {
  createSimulatedBackend,
  SimulatedBackend,
  type SimulatedProviderConfig,
  type SimulationModel,
  type SimulationStats,
} from './providers/simulated/index.js';
export type { TelemetryOptions } from './telemetry/options.js';

/**
 * Options of `new Admission(backend, options)`. `telemetry` takes OpenTelemetry options (the
 * default: on, with the global providers), an `Instrumentation`, or `false` for none.
 */
export type AdmissionOptions = CoreAdmissionOptions<TelemetryOptions | Instrumentation>;

/**
 * Admission that reports through OpenTelemetry unless created with `telemetry: false`: the
 * package entry hands the instrumentation in; admission itself never loads it.
 */
export class Admission extends CoreAdmission {
  constructor(backend: VoiceBackend, options: AdmissionOptions) {
    super(backend, withTelemetry(options));
  }
}

function withTelemetry(options: AdmissionOptions): CoreAdmissionOptions {
  // Anything but an options object is left for Admission to name in its error.
  if (options === null || typeof options !== 'object') return options;
  const { telemetry } = options;
  if (telemetry === false || isInstrumentation(telemetry)) return options as CoreAdmissionOptions;
  return { ...options, telemetry: openTelemetry(telemetry) };
}

function isInstrumentation(value: unknown): value is Instrumentation {
  return typeof (value as Partial<Instrumentation> | undefined)?.attach === 'function';
}

export const { createSessionWithLimit, admissionFor } = limitedSessions<AdmissionOptions>(
  (backend, options) => new Admission(backend, options),
);

/** The registry behind `createBackend` and `registerProvider`. */
export const providers = new ProviderRegistry(builtinProviders);

/**
 * Builds a backend by provider name (`'livekit'`, `'simulated'`, or one added with
 * `registerProvider`). The backend is not started: call `start()`.
 */
export function createBackend(
  name: 'livekit',
  config: BackendConfig<LiveKitProviderConfig>,
): Promise<LiveKitBackend>;
export function createBackend(name: string, config?: BackendConfig): Promise<VoiceBackend>;
export function createBackend(name: string, config: BackendConfig = {}): Promise<VoiceBackend> {
  return providers.create(name, config);
}

/** Adds a provider under `name` for `createBackend`. */
export function registerProvider(
  name: string,
  factory: ProviderFactory,
  options: { replace?: boolean } = {},
): void {
  providers.register(name, factory, options);
}
