import { Admission as CoreAdmission } from './admission/admission.js';
import { limitedSessions } from './admission/create-session-with-limit.js';
import { type AdmissionOptions, isInstrumentation } from './admission/options.js';
import { ProviderRegistry } from './backend/registry.js';
import type { BackendConfig, ProviderFactory, VoiceBackend } from './iface/backend.js';
import { isPlainObject } from './internal/validate.js';
import { builtinProviders } from './providers/builtin.js';
import type { LiveKitBackend, LiveKitProviderConfig } from './providers/livekit/index.js';
import type { SimulatedBackend, SimulatedProviderConfig } from './providers/simulated/index.js';
import { openTelemetry } from './telemetry/instrument.js';

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
// The gateway's error-to-HTTP mapping, one source of truth for it and for your own API.
export { type HttpError, toHttpError } from './http/http-error.js';
export * from './iface/index.js';
export type { Listener, TypedEmitter } from './internal/emitter.js';
// Types only: the LiveKit provider itself loads on first use of createBackend('livekit').
export type {
  AgentParticipant,
  LiveKitAwaitAgentOptions,
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
  type SimulatedTurn,
  type SimulatedTurnsConfig,
  type SimulationModel,
  type SimulationStats,
  type TurnModel,
} from './providers/simulated/index.js';

/**
 * Admission that reports through OpenTelemetry unless created with `telemetry: false`: the
 * package entry hands the instrumentation in; admission itself never loads it.
 */
export class Admission extends CoreAdmission {
  constructor(backend: VoiceBackend, options: AdmissionOptions) {
    super(backend, withTelemetry(options));
  }
}

function withTelemetry(options: AdmissionOptions): AdmissionOptions {
  // Anything but a plain options object is left for Admission to name in its error: a spread
  // would make an array an object and drop inherited fields.
  if (!isPlainObject(options)) return options;
  const { telemetry } = options;
  if (telemetry === false || isInstrumentation(telemetry)) return options;
  return { ...options, telemetry: openTelemetry(telemetry) };
}

export const { createSessionWithLimit, admissionFor } = limitedSessions(
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
export function createBackend(
  name: 'simulated',
  config?: BackendConfig<SimulatedProviderConfig>,
): Promise<SimulatedBackend>;
// Any name but the built-in ones, whose configs the overloads above type: a mistyped option
// must not fall through to this untyped one. A run-time `string` is accepted.
export function createBackend<const N extends string>(
  name: N & (string extends N ? N : N extends 'livekit' | 'simulated' ? never : N),
  config?: BackendConfig,
): Promise<VoiceBackend>;
export function createBackend(name: string, config: BackendConfig = {}): Promise<VoiceBackend> {
  return providers.create(name, config);
}

/** Adds a provider under `name` for `createBackend`. */
export function registerProvider(
  name: string,
  factory: ProviderFactory,
  options: { readonly replace?: boolean | undefined } = {},
): void {
  providers.register(name, factory, options);
}
