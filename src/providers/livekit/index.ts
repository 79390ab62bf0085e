import type { BackendConfig } from '../../iface/backend.js';
import { type LiveKitProviderConfig, parseLiveKitConfig } from './config.js';
import { LiveKitBackend } from './livekit-backend.js';
import { loadServerSdk } from './sdk.js';

export type {
  LiveKitAwaitAgentOptions,
  LiveKitHealthOptions,
  LiveKitJoinOptions,
  LiveKitProviderConfig,
  LiveKitReconcileOptions,
  LiveKitWebhookOptions,
} from './config.js';
export type { ProbeResult } from './health.js';
export type { AgentParticipant, PcmFrame } from './join.js';
export type { LiveKitBackendEvents, RemoteEndSource } from './livekit-backend.js';
export { LiveKitBackend } from './livekit-backend.js';
export type { ReconcileReport } from './reconcile.js';
export type { WebhookAction, WebhookOutcome, WebhookRequest } from './webhooks.js';

/**
 * Factory registered as the `livekit` provider. The config is validated before
 * livekit-server-sdk is loaded, so a bad config fails without loading anything.
 */
export async function createLiveKitBackend(
  config: BackendConfig<LiveKitProviderConfig> = {},
): Promise<LiveKitBackend> {
  const settings = parseLiveKitConfig(config.providerConfig);
  return new LiveKitBackend(config, settings, await loadServerSdk());
}
