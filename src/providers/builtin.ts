import type { ProviderFactory } from '../iface/backend.js';
import { createSimulatedBackend } from './simulated/simulated-backend.js';

/** The providers this package ships, handed to the default registry explicitly. */
export const builtinProviders: Readonly<Record<string, ProviderFactory>> = {
  simulated: createSimulatedBackend,
  // Loaded on first use: users of other providers never load livekit-server-sdk.
  livekit: async (config) => (await import('./livekit/index.js')).createLiveKitBackend(config),
};
