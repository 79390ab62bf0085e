export type {
  SimulatedProviderConfig,
  SimulatedTurnsConfig,
  SimulationModel,
  TurnModel,
} from './config.js';
export {
  createSimulatedBackend,
  SimulatedBackend,
  type SimulatedTurn,
  type SimulationStats,
} from './simulated-backend.js';
