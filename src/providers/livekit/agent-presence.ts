import { BackendError } from '../../iface/errors.js';
import { delay } from '../../internal/delay.js';
import { PROVIDER } from './errors.js';

export interface AgentPresenceRequest {
  readonly roomName: string;
  readonly agentName: string;
  readonly timeoutMs: number;
  readonly pollIntervalMs: number;
  readonly signal: AbortSignal;
  /** Whether a participant of kind agent is in the room now (asks the server). */
  hasAgent(): Promise<boolean>;
}

/**
 * Waits until the dispatched agent is in the room, asking the server every `pollIntervalMs`.
 * A dispatch succeeds even when no worker is registered, and a job every worker rejects is
 * dropped: without this wait, such a session would be handed out with no agent in it. Fails
 * with `setup_failed` once `timeoutMs` has passed; aborts with the signal.
 */
export async function waitForAgent(request: AgentPresenceRequest): Promise<void> {
  const { timeoutMs, signal } = request;
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (await request.hasAgent()) return;
    signal.throwIfAborted();
    const left = deadline - performance.now();
    if (left <= 0) {
      throw new BackendError(
        'setup_failed',
        'create_session',
        `no agent "${request.agentName}" joined room ${request.roomName} within ${timeoutMs} ms: is a worker registered under that agent name, with room for a job?`,
        { provider: PROVIDER },
      );
    }
    await delay(Math.min(request.pollIntervalMs, left), signal);
  }
}
