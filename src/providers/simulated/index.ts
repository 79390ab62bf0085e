export type { SimulatedProviderConfig, SimulationModel } from './config.js';
export {
  createSimulatedBackend,
  SimulatedBackend,
  type SimulationStats,
} from './simulated-backend.js';
