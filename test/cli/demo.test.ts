import { describe, expect, it } from 'vitest';
import {
  DEFAULT_SCENARIO,
  formatReports,
  runWithAdmission,
  runWithoutAdmission,
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
    expect(table).toContain('no admission');
    expect(table).toMatch(/\d+ \/ 100/);
  });
});
