import { initializeLogger, type metrics, voice } from '@livekit/agents';
import { describe, expect, it } from 'vitest';
import { adaptive } from '../../src/admission/adaptive/adaptive-limit.js';
import { Admission } from '../../src/admission/admission.js';
import { reportTurnLatency } from '../../src/integrations/livekit-agents.js';
import { ControlledBackend } from '../support/controlled-backend.js';

initializeLogger({ pretty: false, level: 'warn' });

const eou = (speechId: string, endOfUtteranceDelayMs: number): metrics.EOUMetrics => ({
  type: 'eou_metrics',
  timestamp: Date.now(),
  endOfUtteranceDelayMs,
  transcriptionDelayMs: 40,
  onUserTurnCompletedDelayMs: 1,
  lastSpeakingTimeMs: Date.now() - 500,
  speechId,
});

const llm = (speechId: string, ttftMs: number, cancelled = false): metrics.LLMMetrics => ({
  type: 'llm_metrics',
  label: 'test-llm',
  requestId: `r-${speechId}`,
  timestamp: Date.now(),
  durationMs: ttftMs + 400,
  ttftMs,
  cancelled,
  completionTokens: 20,
  promptTokens: 100,
  promptCachedTokens: 0,
  totalTokens: 120,
  tokensPerSecond: 50,
  speechId,
});

const tts = (speechId: string, ttfbMs: number, cancelled = false): metrics.TTSMetrics => ({
  type: 'tts_metrics',
  label: 'test-tts',
  requestId: `t-${speechId}`,
  timestamp: Date.now(),
  ttfbMs,
  durationMs: ttfbMs + 300,
  audioDurationMs: 1_500,
  cancelled,
  charactersCount: 40,
  streamed: true,
  speechId,
});

/** A real AgentSession (no models needed to hold and emit its events). */
function agentSession(): voice.AgentSession {
  return new voice.AgentSession({});
}

function emit(session: voice.AgentSession, m: metrics.AgentMetrics): void {
  session.emit(
    voice.AgentSessionEventTypes.MetricsCollected,
    voice.createMetricsCollectedEvent({ metrics: m }),
  );
}

describe('reportTurnLatency', () => {
  it('reports end-of-utterance delay + LLM TTFT + TTS TTFB per reply, in any arrival order', async () => {
    const backend = new ControlledBackend();
    await backend.start();
    const admission = new Admission(backend, {
      maxConcurrentSessions: 10,
      limit: adaptive({ min: 1, max: 10, slo: { targetMs: 1_000 } }),
      health: false,
    });
    const session = agentSession();
    const seen: [number, string | undefined][] = [];
    const stop = reportTurnLatency(
      session,
      {
        observeLatency: (ms, options) => {
          seen.push([ms, options?.tenantId]);
          return admission.observeLatency(ms, options);
        },
      },
      { tenantId: 'acme' },
    );

    emit(session, eou('s1', 300));
    emit(session, llm('s1', 250));
    expect(seen).toEqual([]);
    emit(session, tts('s1', 120));
    // A second TTS segment of the same reply is not another turn.
    emit(session, tts('s1', 90));
    emit(session, tts('s2', 100));
    emit(session, llm('s2', 400));
    emit(session, eou('s2', 50));
    expect(seen).toEqual([
      [670, 'acme'],
      [550, 'acme'],
    ]);
    expect(admission.stats().slo?.samples).toBe(2);

    // An interrupted reply is no response; metrics without a speech id are ignored.
    emit(session, eou('s3', 200));
    emit(session, llm('s3', 300, true));
    emit(session, tts('s3', 100));
    emit(session, {
      type: 'eou_metrics',
      timestamp: Date.now(),
      endOfUtteranceDelayMs: 10,
      transcriptionDelayMs: 1,
      onUserTurnCompletedDelayMs: 0,
      lastSpeakingTimeMs: 0,
    });
    expect(seen).toHaveLength(2);

    stop();
    emit(session, eou('s5', 1));
    emit(session, llm('s5', 1));
    emit(session, tts('s5', 1));
    expect(seen).toHaveLength(2);
    await admission.drain();
  });

  it('bounds the replies waiting for their metrics, and skips unmeasured parts', () => {
    const session = agentSession();
    const seen: number[] = [];
    reportTurnLatency(session, { observeLatency: (ms) => seen.push(ms) }, { maxPendingTurns: 2 });
    emit(session, eou('a', 100));
    emit(session, eou('b', 100));
    emit(session, eou('c', 100)); // drops a
    emit(session, llm('b', 100));
    emit(session, tts('b', 100));
    expect(seen).toEqual([300]);
    // a lost its end-of-utterance delay: its other metrics make no turn.
    emit(session, llm('a', 100));
    emit(session, tts('a', 100));
    emit(session, llm('c', 100));
    emit(session, tts('c', -1));
    expect(seen).toEqual([300]);
    // Past the hour a latency sample may span: a broken measurement, not a turn.
    emit(session, eou('d', 3_600_000));
    emit(session, llm('d', 1));
    emit(session, tts('d', 1));
    expect(seen).toEqual([300]);
  });

  it('names what it refuses', () => {
    const session = agentSession();
    expect(() => reportTurnLatency({} as never, { observeLatency: () => true })).toThrow(/session/);
    expect(() => reportTurnLatency(session, {} as never)).toThrow(/sink/);
    expect(() =>
      reportTurnLatency(session, { observeLatency: () => true }, { tenantId: '' }),
    ).toThrow(/tenantId/);
    expect(() =>
      reportTurnLatency(session, { observeLatency: () => true }, { maxPendingTurns: 0 }),
    ).toThrow(/maxPendingTurns.*0/);
  });
});
