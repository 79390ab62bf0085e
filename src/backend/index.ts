export { BaseBackend, type OpenedSession, type OpenSessionRequest } from './base-backend.js';
export {
  ManagedSession,
  type ManagedSessionInit,
  type SessionTeardown,
} from './managed-session.js';
export { ProviderRegistry } from './registry.js';
