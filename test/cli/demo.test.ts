import { describe, expect, it } from 'vitest';
import {
  DEFAULT_SCENARIO,
  formatReports,
  joinedWithin,
  type RunReport,
  runWithAdmission,
  runWithoutAdmission,
  summarize,
} from '../../src/cli/demo.js';

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
});
