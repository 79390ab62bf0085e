import { afterEach, describe, expect, it } from 'vitest';
import { type RunningGateway, serve } from '../../src/cli/serve.js';
import { parseServeConfig } from '../../src/cli/serve-config.js';
import { LogLines, OPERATOR_TOKEN, TOKENS } from './gateway-harness.js';

let running: RunningGateway | undefined;
afterEach(async () => {
  await running?.close();
  running = undefined;
});

const report = (samplesMs: number[]) =>
  fetch(`${running!.url}/v1/latency`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${OPERATOR_TOKEN}` },
    body: JSON.stringify({ samplesMs }),
  });

describe('serve with a latency objective', () => {
  it('--slo-target-ms makes the session limit follow POST /v1/latency, starting at --slo-initial', async () => {
    const config = parseServeConfig(
      ['--port', '0', '--max-sessions', '50', '--slo-target-ms', '800', '--slo-initial', '7'],
      { AUTH_TOKENS: TOKENS, SLO_PERCENTILE: '90' },
    );
    expect(config.slo).toEqual({ quantile: 0.9, targetMs: 800, windowMs: 30_000, initial: 7 });
    running = await serve(config, { version: 'test', logStream: new LogLines() });
    const answer = await report([400, 500]);
    expect(answer.status).toBe(202);
    expect(await answer.json()).toEqual({ accepted: 2, steering: true });
    const ready = (await (await fetch(`${running.url}/readyz`)).json()) as { limit: number };
    expect(ready.limit).toBe(7);
  });

  it('without it, samples are taken and steer nothing; bad values are refused by flag', async () => {
    running = await serve(parseServeConfig(['--port', '0'], { AUTH_TOKENS: TOKENS }), {
      version: 'test',
      logStream: new LogLines(),
    });
    expect(await (await report([400])).json()).toEqual({ accepted: 1, steering: false });
    expect(() => parseServeConfig(['--slo-target-ms', '0'], {})).toThrow(/--slo-target-ms/);
    expect(() =>
      parseServeConfig(['--slo-target-ms', '900', '--slo-percentile', '100'], {}),
    ).toThrow(/--slo-percentile/);
    expect(() =>
      parseServeConfig(['--max-sessions', '5', '--slo-target-ms', '900', '--slo-initial', '6'], {}),
    ).toThrow(/--slo-initial/);
  });
});
