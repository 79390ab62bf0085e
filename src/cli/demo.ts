import { Admission } from '../admission/admission.js';
import { AdmissionError, BackendError } from '../iface/errors.js';
import type { VoiceSession } from '../iface/session.js';
import type { SimulatedProviderConfig } from '../providers/simulated/config.js';
import { SimulatedBackend } from '../providers/simulated/simulated-backend.js';
import { formatMs, percentile, table } from './stats.js';

/** A burst like the ones users report: many callers at once, a few tenants of unequal size. */
export interface DemoScenario {
  readonly requests: number;
  readonly tenants: Readonly<Record<string, number>>;
  readonly simulation: SimulatedProviderConfig;
}

export const DEFAULT_SCENARIO: DemoScenario = {
  requests: 600,
  tenants: { acme: 0.5, globex: 0.25, initech: 0.15, umbrella: 0.1 },
  simulation: {
    setupLatencyMs: 60,
    setupCapacity: 20,
    contentionExponent: 1.5,
    overloadFailureRate: 0.3,
    setupTimeoutMs: 3_000,
    sessionDurationMs: { min: 400, max: 800 },
    seed: 7,
  },
};

export interface RunReport {
  readonly label: string;
  readonly requested: number;
  readonly admitted: number;
  /** Requests that waited in the admission queue before their slot. */
  readonly queued: number;
  readonly refused: Readonly<Record<string, number>>;
  readonly setupFailures: number;
  readonly joinMs: readonly number[];
  readonly peakActive: number;
  readonly cap: number | undefined;
  readonly wallMs: number;
}

/** Fires every request at once straight at the backend, as code without admission does. */
export async function runWithoutAdmission(scenario: DemoScenario): Promise<RunReport> {
  const backend = new SimulatedBackend({ providerConfig: scenario.simulation });
  await backend.start();
  const started = performance.now();
  const joinMs: number[] = [];
  let setupFailures = 0;
  await Promise.all(
    tenantSequence(scenario).map(async (tenantId, i) => {
      const t0 = performance.now();
      try {
        await backend.createSession({ userId: `caller-${i}`, tenantId });
        joinMs.push(performance.now() - t0);
      } catch (error) {
        if (!(error instanceof BackendError)) throw error;
        setupFailures++;
      }
    }),
  );
  const sessions = backend.listSessions();
  await Promise.all(sessions.map((s) => s.closed));
  const report = finish(
    'no admission',
    scenario,
    backend,
    started,
    joinMs,
    {},
    setupFailures,
    0,
    undefined,
  );
  await backend.stop();
  return report;
}

/** The same burst through `Admission`: cap, tenant caps, a queue and setup smoothing. */
export async function runWithAdmission(scenario: DemoScenario): Promise<RunReport> {
  const backend = new SimulatedBackend({ providerConfig: scenario.simulation });
  await backend.start();
  const cap = 100;
  const admission = new Admission(backend, {
    maxConcurrentSessions: cap,
    tenants: { defaultMax: 40, max: { acme: 60 } },
    queue: { maxSize: 1_000, maxPerTenant: 400, timeoutMs: 15_000 },
    setup: { concurrency: 20, perSecond: 200 },
    health: { intervalMs: 1_000 },
  });
  let queued = 0;
  admission.on('queued', () => queued++);
  const refused: Record<string, number> = {};
  let setupFailures = 0;
  const joinMs: number[] = [];
  const started = performance.now();
  const sessions: VoiceSession[] = [];
  await Promise.all(
    tenantSequence(scenario).map(async (tenantId, i) => {
      const t0 = performance.now();
      try {
        sessions.push(await admission.createSession({ userId: `caller-${i}`, tenantId }));
        joinMs.push(performance.now() - t0);
      } catch (error) {
        if (error instanceof AdmissionError) refused[error.code] = (refused[error.code] ?? 0) + 1;
        else if (error instanceof BackendError) setupFailures++;
        else throw error;
      }
    }),
  );
  await Promise.all(sessions.map((s) => s.closed));
  const report = finish(
    'Admission',
    scenario,
    backend,
    started,
    joinMs,
    refused,
    setupFailures,
    queued,
    cap,
  );
  await admission.drain({ timeoutMs: 1_000 });
  await backend.stop();
  return report;
}

export function formatReports(reports: readonly RunReport[]): string {
  const rows = reports.map((r) => [
    r.label,
    String(r.requested),
    String(r.admitted),
    String(r.queued),
    Object.keys(r.refused).length === 0
      ? '0'
      : Object.entries(r.refused)
          .map(([code, n]) => `${code} ${n}`)
          .join(', '),
    String(r.setupFailures),
    formatMs(percentile(r.joinMs, 50)),
    formatMs(percentile(r.joinMs, 90)),
    formatMs(percentile(r.joinMs, 99)),
    r.cap === undefined ? `${r.peakActive} (no cap)` : `${r.peakActive} / ${r.cap}`,
    formatMs(r.wallMs),
  ]);
  return table(
    [
      'run',
      'requests',
      'joined',
      'waited',
      'refused',
      'setup failures',
      'join p50',
      'p90',
      'p99',
      'peak active',
      'wall',
    ],
    rows,
  );
}

function finish(
  label: string,
  scenario: DemoScenario,
  backend: SimulatedBackend,
  started: number,
  joinMs: number[],
  refused: Record<string, number>,
  setupFailures: number,
  queued: number,
  cap: number | undefined,
): RunReport {
  return {
    label,
    requested: scenario.requests,
    admitted: joinMs.length,
    queued,
    refused,
    setupFailures,
    joinMs,
    peakActive: backend.simulationStats().peakOpenSessions,
    cap,
    wallMs: performance.now() - started,
  };
}

/** Deterministic tenant for each request, in the scenario's proportions, interleaved. */
function tenantSequence(scenario: DemoScenario): string[] {
  const entries = Object.entries(scenario.tenants);
  const credit = new Map(entries.map(([t]) => [t, 0]));
  const out: string[] = [];
  for (let i = 0; i < scenario.requests; i++) {
    let best = entries[0]![0];
    for (const [tenant, share] of entries) {
      credit.set(tenant, credit.get(tenant)! + share);
      if (credit.get(tenant)! > credit.get(best)!) best = tenant;
    }
    credit.set(best, credit.get(best)! - 1);
    out.push(best);
  }
  return out;
}
