import { parseArgs } from 'node:util';
import { ConfigError } from '../iface/errors.js';
import { ProgressBar } from './progress.js';
import { formatMs, percentile, table } from './stats.js';

export interface BurstConfig {
  readonly url: string;
  readonly n: number;
  /** Requests in flight at once (default: all at once). */
  readonly concurrency: number | undefined;
  /** Requests started per second, instead of a concurrency. */
  readonly rate: number | undefined;
  readonly tenants: readonly string[];
  /** Close each created session after this long (0: leave them open). */
  readonly holdMs: number;
}

export interface BurstReport {
  readonly requests: number;
  readonly statuses: Readonly<Record<string, number>>;
  readonly refusals: Readonly<Record<string, number>>;
  readonly latencyMs: readonly number[];
  readonly created: number;
  readonly wallMs: number;
}

export const BURST_USAGE = `voice-admission burst --url URL [options]

Fires session requests at a voice-admission gateway and reports what came back.

  --url URL            the gateway (POST URL/v1/sessions), required
  --n N                requests in all (default 100)
  --concurrency C      requests in flight at once (default: all at once)
  --rate R             requests started per second, instead of --concurrency
  --tenants a,b,c      tenants, used in turn (default: default)
  --hold-ms MS         close each session after MS ms (default 0: leave open)
`;

export function parseBurstConfig(argv: readonly string[]): BurstConfig {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      url: { type: 'string' },
      n: { type: 'string' },
      concurrency: { type: 'string' },
      rate: { type: 'string' },
      tenants: { type: 'string' },
      'hold-ms': { type: 'string' },
    },
    strict: true,
  });
  if (values.url === undefined) throw new ConfigError('--url', 'is required');
  const url = new URL(values.url).toString().replace(/\/$/, '');
  const positive = (flag: string, text: string | undefined, min: number): number | undefined => {
    if (text === undefined) return undefined;
    const value = Number(text);
    if (!Number.isFinite(value) || value < min)
      throw new ConfigError(flag, `must be a number >= ${min}, got ${JSON.stringify(text)}`);
    return value;
  };
  const concurrency = positive('--concurrency', values.concurrency, 1);
  const rate = positive('--rate', values.rate, 0.001);
  if (concurrency !== undefined && rate !== undefined) {
    throw new ConfigError('--rate', 'and --concurrency cannot be used together');
  }
  return {
    url,
    n: Math.floor(positive('--n', values.n, 1) ?? 100),
    concurrency: concurrency === undefined ? undefined : Math.floor(concurrency),
    rate,
    tenants: (values.tenants ?? 'default').split(',').filter((t) => t !== ''),
    holdMs: positive('--hold-ms', values['hold-ms'], 0) ?? 0,
  };
}

/** Runs the burst; `onProgress` is told after each response. */
export async function runBurst(
  config: BurstConfig,
  onProgress?: (done: number) => void,
): Promise<BurstReport> {
  const statuses: Record<string, number> = {};
  const refusals: Record<string, number> = {};
  const latencyMs: number[] = [];
  const closes: Promise<unknown>[] = [];
  let created = 0;
  let done = 0;
  const started = performance.now();

  const one = async (i: number): Promise<void> => {
    const t0 = performance.now();
    let status = 'network error';
    try {
      const response = await fetch(`${config.url}/v1/sessions`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          userId: `burst-${i}`,
          tenantId: config.tenants[i % config.tenants.length],
        }),
      });
      status = String(response.status);
      const body = (await response.json()) as { id?: string; error?: { code?: string } };
      if (response.status === 201 && body.id !== undefined) {
        created++;
        if (config.holdMs > 0) closes.push(closeLater(config, body.id));
      } else if (body.error?.code !== undefined) {
        refusals[body.error.code] = (refusals[body.error.code] ?? 0) + 1;
      }
    } catch {
      // counted as a network error
    }
    latencyMs.push(performance.now() - t0);
    statuses[status] = (statuses[status] ?? 0) + 1;
    onProgress?.(++done);
  };

  if (config.rate !== undefined) {
    const spacing = 1000 / config.rate;
    const inFlight: Promise<void>[] = [];
    for (let i = 0; i < config.n; i++) {
      const due = started + i * spacing - performance.now();
      if (due > 0) await new Promise((resolve) => setTimeout(resolve, due));
      inFlight.push(one(i));
    }
    await Promise.all(inFlight);
  } else {
    let next = 0;
    const lanes = Math.min(config.concurrency ?? config.n, config.n);
    await Promise.all(
      Array.from({ length: lanes }, async () => {
        while (next < config.n) await one(next++);
      }),
    );
  }
  await Promise.all(closes);
  return {
    requests: config.n,
    statuses,
    refusals,
    latencyMs,
    created,
    wallMs: performance.now() - started,
  };
}

async function closeLater(config: BurstConfig, id: string): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, config.holdMs));
  await fetch(`${config.url}/v1/sessions/${encodeURIComponent(id)}`, { method: 'DELETE' }).catch(
    () => undefined,
  );
}

export function formatBurstReport(report: BurstReport): string {
  const count = (record: Readonly<Record<string, number>>): string =>
    Object.keys(record).length === 0
      ? '-'
      : Object.entries(record)
          .sort(([a], [b]) => a.localeCompare(b))
          .map(([key, n]) => `${key} ${n}`)
          .join(', ');
  return table(
    ['', ''],
    [
      ['requests', String(report.requests)],
      ['sessions created', String(report.created)],
      ['status codes', count(report.statuses)],
      ['refusals by reason', count(report.refusals)],
      [
        'latency p50 / p90 / p99',
        [50, 90, 99].map((p) => formatMs(percentile(report.latencyMs, p))).join(' / '),
      ],
      ['wall time', formatMs(report.wallMs)],
    ],
  );
}

/** `voice-admission burst`: runs and prints the report (progress on a terminal). */
export async function burstCommand(argv: readonly string[]): Promise<number> {
  const config = parseBurstConfig(argv);
  const bar = new ProgressBar(process.stderr, config.n);
  const report = await runBurst(config, (done) => bar.update(done, 'responses'));
  process.stdout.write(`${formatBurstReport(report)}\n`);
  return 0;
}
