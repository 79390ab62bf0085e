import { describe, expect, it } from 'vitest';
import {
  DEFAULT_SCENARIO,
  formatReports,
  joinedWithin,
  type RunReport,
  runDemo,
  runWithAdmission,
  runWithoutAdmission,
  summarize,
} from '../../src/cli/demo.js';

/** Runs the demo as the CLI does, into a string (not a terminal: no progress bar). */
async function demoText(requests: number): Promise<string> {
  let text = '';
  const out = {
    isTTY: false,
    write: (chunk: string) => {
      text += chunk;
      return true;
    },
  } as unknown as NodeJS.WriteStream;
  await runDemo({ ...DEFAULT_SCENARIO, requests }, out);
  return text;
}

describe('the demo', () => {
  it('without admission the burst makes setups fail; through Admission the peak stays at the cap and none fails', async () => {
    const scenario = {
      ...DEFAULT_SCENARIO,
      requests: 300,
      simulation: {
        ...DEFAULT_SCENARIO.simulation,
        setupLatencyMs: 5,
        sessionDurationMs: { min: 100, max: 200 },
      },
    };
    const bare = await runWithoutAdmission(scenario);
    const admitted = await runWithAdmission(scenario);
    expect(bare.setupFailures).toBeGreaterThan(0);
    expect(admitted.peakActive).toBeLessThanOrEqual(100);
    expect(admitted.setupFailures).toBe(0);
    const refused = Object.values(admitted.refused).reduce((a, b) => a + b, 0);
    expect(admitted.admitted + refused).toBe(300);
    const table = formatReports([bare, admitted]);
    expect(table).toMatch(/^no admission +\d+\/300 /m);
    expect(table).toMatch(/^Admission +300\/300 .* \d+\/100$/m);
    for (const line of table.split('\n')) expect(line.length).toBeLessThanOrEqual(80);
    expect(summarize(bare, admitted)).toBe(
      `With Admission: 300/300 joined (without: ${bare.admitted}), 0 setups failed (without: ${bare.setupFailures}).`,
    );
  });

  it('measures join times over all requests on both sides: one that never joined counts as never', () => {
    const report = { requested: 4, joinMs: [30, 10] } as unknown as RunReport;
    expect(joinedWithin(report, 50)).toBe(30);
    expect(joinedWithin(report, 25)).toBe(10);
    expect(joinedWithin(report, 90)).toBeNaN();
  });

  it('counts the tenants and requests the burst really has: one request comes from one tenant', async () => {
    const one = await demoText(1);
    const flowing = one.replace(/\s+/g, ' ');
    expect(flowing).toContain('One request from 1 tenant, sent twice');
    expect(one).toMatch(/^without admission: 1 request, /m);
    expect(one).toMatch(/^through Admission: 1 request, /m);
    expect((await demoText(2)).replace(/\s+/g, ' ')).toContain(
      'A burst of 2 simultaneous requests from 2 tenants, sent twice',
    );
    for (const line of one.split('\n')) expect(line.length).toBeLessThanOrEqual(80);
  });
});
