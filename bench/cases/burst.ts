import {
  DEFAULT_SCENARIO,
  type DemoScenario,
  type RunReport,
  runWithAdmission,
  runWithoutAdmission,
} from '../../src/cli/demo.js';
import { formatMs, percentile } from '../../src/cli/stats.js';
import { BackendError } from '../../src/iface/errors.js';
import { SimulatedBackend } from '../../src/providers/simulated/simulated-backend.js';
import type { BenchCase, Row } from '../measure.js';

const CAP = 100;
/**
 * The demo's burst, with calls long enough (1.5-2.5 s) to still be running when the burst's
 * last setups finish: what makes check-then-create overshoot the cap.
 */
const SCENARIO: DemoScenario = {
  ...DEFAULT_SCENARIO,
  simulation: { ...DEFAULT_SCENARIO.simulation, sessionDurationMs: { min: 1_500, max: 2_500 } },
};

/**
 * The Go pattern: check the count and the health, then create. Every caller that checks
 * before the others' creates land sees room, so a burst overshoots the cap.
 */
async function checkThenCreate(): Promise<RunReport> {
  const backend = new SimulatedBackend({ providerConfig: SCENARIO.simulation });
  await backend.start();
  const started = performance.now();
  const joinMs: number[] = [];
  const refused: Record<string, number> = {};
  let setupFailures = 0;
  await Promise.all(
    Array.from({ length: SCENARIO.requests }, async (_, i) => {
      const t0 = performance.now();
      const health = await backend.healthCheck();
      if (backend.getActiveSessionCount() >= CAP || !health.healthy) {
        refused.capacity = (refused.capacity ?? 0) + 1;
        return;
      }
      try {
        await backend.createSession({ userId: `caller-${i}` });
        joinMs.push(performance.now() - t0);
      } catch (error) {
        if (!(error instanceof BackendError)) throw error;
        setupFailures++;
      }
    }),
  );
  await Promise.all(backend.listSessions().map((s) => s.closed));
  const report: RunReport = {
    label: 'check-then-create',
    requested: SCENARIO.requests,
    admitted: joinMs.length,
    queued: 0,
    refused,
    setupFailures,
    joinMs,
    peakActive: backend.simulationStats().peakOpenSessions,
    cap: CAP,
    wallMs: performance.now() - started,
  };
  await backend.stop();
  return report;
}

function rows(group: string, report: RunReport, anchor: RunReport): Row[] {
  const p99 = percentile(report.joinMs, 99);
  const oversubscribed =
    report.cap === undefined ? '' : `, ${Math.max(0, report.peakActive - report.cap)} over the cap`;
  return [
    {
      group,
      name: `${report.label}: join p50 / p90 / p99`,
      value: [50, 90, 99].map((p) => formatMs(percentile(report.joinMs, p))).join(' / '),
      ratio: `p99 ${(p99 / percentile(anchor.joinMs, 99)).toFixed(2)}x`,
    },
    {
      group,
      name: `${report.label}: joined, setup failures, peak active`,
      value: `${report.admitted} joined, ${report.setupFailures} failed, peak ${report.peakActive}${oversubscribed}`,
      ratio: `${(report.admitted / Math.max(1, anchor.admitted)).toFixed(2)}x joined`,
      ...(report.label === 'Admission'
        ? {
            target: `peak <= ${CAP}, no failures`,
            met: report.peakActive <= CAP && report.setupFailures === 0,
          }
        : {}),
    },
  ];
}

export const burst: BenchCase = {
  name: `burst model: ${SCENARIO.requests} simultaneous starts, simulated contention`,
  command: 'npm run bench -- burst',
  async run(): Promise<Row[]> {
    const bare = await runWithoutAdmission(SCENARIO);
    const racy = await checkThenCreate();
    const admitted = await runWithAdmission(SCENARIO);
    return [
      ...rows(this.name, bare, bare),
      ...rows(this.name, racy, bare),
      ...rows(this.name, admitted, bare),
    ];
  },
};
