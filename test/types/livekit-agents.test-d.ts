import { describe, expectTypeOf, it } from 'vitest';
import type { Admission } from '../../src/index.js';
import {
  type AgentJobServer,
  admitAgentJobs,
  type LatencySink,
  type MetricsSource,
  reportTurnLatency,
  type TurnLatencyOptions,
} from '../../src/integrations/livekit-agents.js';

declare const admission: Admission;
declare const session: MetricsSource;

describe('voice-admission/livekit-agents', () => {
  it("reportTurnLatency feeds an agent session's turn latency to a sink, until stopped", () => {
    expectTypeOf(reportTurnLatency).parameters.toEqualTypeOf<
      [session: MetricsSource, sink: LatencySink, options?: TurnLatencyOptions]
    >();
    expectTypeOf(reportTurnLatency(session, admission, { tenantId: 'acme' })).toEqualTypeOf<
      () => void
    >();
    expectTypeOf(admission).toExtend<LatencySink>();
    // @ts-expect-error no such option
    reportTurnLatency(session, admission, { tenant: 'acme' });
    // @ts-expect-error a sink takes latencies
    reportTurnLatency(session, {});
  });

  it("a metrics source is anything with the agent session's on and off", () => {
    expectTypeOf<keyof MetricsSource>().toEqualTypeOf<'on' | 'off'>();
  });

  it('the server the worker is registered with takes a url and credentials', () => {
    expectTypeOf<AgentJobServer>().toEqualTypeOf<{
      readonly url: string;
      readonly apiKey: string;
      readonly apiSecret: string;
    }>();
    // @ts-expect-error the secret is required
    admitAgentJobs(admission, { server: { url: 'ws://127.0.0.1:7880', apiKey: 'key' } });
  });
});
