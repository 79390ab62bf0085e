import type { metrics, voice } from '@livekit/agents';
import { MAX_LATENCY_MS } from '../admission/adaptive/slo-limit.js';
import { ConfigError } from '../iface/errors.js';
import { tenantIdField } from '../internal/tenant-id.js';
import { describeValue, numberField } from '../internal/validate.js';

/** Where turn latencies go: an `Admission`, or anything with its `observeLatency`. */
export interface LatencySink {
  observeLatency(latencyMs: number, options?: { readonly tenantId?: string | undefined }): unknown;
}

/** The part of an `AgentSession` this reads: its `metrics_collected` events. */
export type MetricsSource = Pick<voice.AgentSession, 'on' | 'off'>;

/** `AgentSessionEventTypes.MetricsCollected`, without loading the package for its value. */
const METRICS_COLLECTED = 'metrics_collected' as voice.AgentSessionEventTypes.MetricsCollected;

export interface TurnLatencyOptions {
  /** The tenant the call belongs to. */
  readonly tenantId?: string | undefined;
  /** Turns waiting for their other metrics, at most (the oldest is dropped). Default 32. */
  readonly maxPendingTurns?: number | undefined;
}

interface PendingTurn {
  eouMs?: number;
  ttftMs?: number;
  ttfbMs?: number;
}

/**
 * Reports each turn's response latency of an `@livekit/agents` `AgentSession` to `sink`: the
 * end-of-utterance delay (`eou_metrics`) + the LLM's time to first token (`llm_metrics`) +
 * the TTS's time to first byte (`tts_metrics`) of one reply, matched by `speechId`, once all
 * three have arrived. A turn whose LLM or TTS was cancelled (the caller interrupted) is not a
 * response and is not reported. Returns what unsubscribes.
 */
export function reportTurnLatency(
  session: MetricsSource,
  sink: LatencySink,
  options: TurnLatencyOptions = {},
): () => void {
  if (typeof session?.on !== 'function' || typeof session.off !== 'function')
    throw new ConfigError('session', `must be an AgentSession, got ${describeValue(session)}`);
  if (typeof sink?.observeLatency !== 'function')
    throw new ConfigError('sink', `must have observeLatency(), got ${describeValue(sink)}`);
  const tenant =
    options.tenantId === undefined ? {} : { tenantId: tenantIdField('tenantId', options.tenantId) };
  const maxPending = numberField(
    'maxPendingTurns',
    options.maxPendingTurns,
    { min: 1, integer: true },
    32,
  );
  const pending = new Map<string, PendingTurn>();

  const listener = ({ metrics: m }: voice.MetricsCollectedEvent): void => {
    const part = partOf(m);
    if (part === undefined || part.speechId === undefined) return;
    const { speechId } = part;
    if (part.cancelled) {
      pending.delete(speechId);
      return;
    }
    const turn = pending.get(speechId) ?? {};
    if (turn[part.key] !== undefined) return;
    turn[part.key] = part.ms;
    if (turn.eouMs !== undefined && turn.ttftMs !== undefined && turn.ttfbMs !== undefined) {
      pending.delete(speechId);
      const latencyMs = turn.eouMs + turn.ttftMs + turn.ttfbMs;
      // A part a plugin did not measure (reported as -1) makes no latency, nor does a sum
      // past the bound a sample may have (a broken clock): the listener must not throw.
      if (turn.eouMs >= 0 && turn.ttftMs >= 0 && turn.ttfbMs >= 0 && latencyMs <= MAX_LATENCY_MS)
        sink.observeLatency(latencyMs, tenant);
      return;
    }
    pending.set(speechId, turn);
    // A reply that never gets all three (a tool call without speech) must not pile up.
    if (pending.size > maxPending) pending.delete(pending.keys().next().value as string);
  };
  session.on(METRICS_COLLECTED, listener);
  return () => {
    session.off(METRICS_COLLECTED, listener);
    pending.clear();
  };
}

interface Part {
  readonly key: keyof PendingTurn;
  readonly ms: number;
  readonly cancelled: boolean;
  readonly speechId: string | undefined;
}

function partOf(m: metrics.AgentMetrics): Part | undefined {
  switch (m.type) {
    case 'eou_metrics':
      return { key: 'eouMs', ms: m.endOfUtteranceDelayMs, cancelled: false, speechId: m.speechId };
    case 'llm_metrics':
      return { key: 'ttftMs', ms: m.ttftMs, cancelled: m.cancelled, speechId: m.speechId };
    case 'tts_metrics':
      return { key: 'ttfbMs', ms: m.ttfbMs, cancelled: m.cancelled, speechId: m.speechId };
    default:
      return undefined;
  }
}
