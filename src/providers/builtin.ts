import type { ProviderFactory } from '../iface/backend.js';
import { createSimulatedBackend } from './simulated/simulated-backend.js';

/** The providers this package ships, handed to the default registry explicitly. */
export const builtinProviders: Readonly<Record<string, ProviderFactory>> = {
  simulated: createSimulatedBackend,
};
