import { withoutCredentials } from '../backend/redact.js';
import { ConfigError } from '../iface/errors.js';
import { onAbort } from '../internal/abort.js';
import { MAX_TIMER_MS } from '../internal/validate.js';
import { decimalFlag, integerFlag, parseFlags, tenantsFlag } from './args.js';
import { ProgressBar } from './progress.js';
import { formatMs, percentile, table } from './stats.js';

/** The status recorded for a request that got no HTTP answer. */
const NETWORK_ERROR = 'network error';
/** The status recorded for a request cut off by Ctrl-C before its answer came. */
const INTERRUPTED = 'interrupted';
/**
 * How long after Ctrl-C the requests under way may still receive their answers. Cutting one
 * off can only abandon a creation the gateway has not answered yet: a `201` already written
 * when the client closes counts as received, and its session would be held for nobody. A
 * setup takes well under this; a request still unanswered by then is queued or hung.
 */
const ANSWER_GRACE_MS = 2_000;

/**
 * The most requests a burst sends. Every answer is kept until the report, so memory grows with
 * the count (20 million took 4.4 GB; 100 000 at --concurrency 200 about 200 MB and 76 s on
 * 2 cores). More load than this wants several burst processes, not one bigger one.
 */
export const MAX_BURST_REQUESTS = 100_000;

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
  /** Bearer token for a gateway with AUTH_TOKENS (from the GATEWAY_TOKEN variable). */
  readonly token: string | undefined;
  /** Print the report as JSON. */
  readonly json: boolean;
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
  --n N                requests in all (default 100, at most ${MAX_BURST_REQUESTS})
  --concurrency C      requests in flight at once (default: all at once)
  --rate R             requests started per second, instead of --concurrency
  --tenants a,b,c      tenants, used in turn (default: none named)
  --hold-ms MS         close each session after MS ms (default 0: leave open)
  --json               print the report as one JSON object

A gateway with AUTH_TOKENS needs a token: set GATEWAY_TOKEN (not a flag, so it stays out of
the process list).

Exits 1 when the run could not measure the load asked for: no request got an HTTP answer, or
any was refused for the request itself, a 4xx other than 429 (401 or 403: GATEWAY_TOKEN or
--tenants; 404: --url is not the gateway's base URL). Refusals for load (429, 503) are the
gateway at work: exit 0. Ctrl-C stops early: the sessions held for --hold-ms are closed at
once, requests still waiting for an answer get ${ANSWER_GRACE_MS / 1000} s to receive it (its
session is closed too) and are then cut off (counted as "interrupted"), the report covers
what was sent, exit 130. A second Ctrl-C exits at once.
`;

export function parseBurstConfig(
  argv: readonly string[],
  env: NodeJS.ProcessEnv = {},
): BurstConfig {
  const values = parseFlags(
    argv,
    ['url', 'n', 'concurrency', 'rate', 'tenants', 'hold-ms'],
    ['json'],
  ) as Record<string, string | undefined> & { json?: boolean };
  if (values.url === undefined) throw new ConfigError('--url', 'is required');
  const url = httpUrl(values.url);
  const concurrency = integerFlag('--concurrency', values.concurrency, 1);
  const rate = decimalFlag('--rate', values.rate, 0.001);
  if (concurrency !== undefined && rate !== undefined) {
    throw new ConfigError('--rate', 'and --concurrency cannot be used together');
  }
  return {
    url,
    n: integerFlag('--n', values.n, 1, MAX_BURST_REQUESTS) ?? 100,
    concurrency,
    rate,
    tenants: tenantsFlag('--tenants', values.tenants),
    holdMs: integerFlag('--hold-ms', values['hold-ms'], 0, MAX_TIMER_MS) ?? 0,
    token: env.GATEWAY_TOKEN === '' ? undefined : env.GATEWAY_TOKEN,
    json: values.json === true,
  };
}

function httpUrl(text: string): string {
  const url = URL.canParse(text) ? new URL(text) : undefined;
  const shown = JSON.stringify(withoutCredentials(text));
  if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    throw new ConfigError('--url', `must be an http:// or https:// URL, got ${shown}`);
  }
  // fetch refuses a URL with credentials: every request would fail.
  if (url.username !== '' || url.password !== '') {
    throw new ConfigError(
      '--url',
      `must be an http:// or https:// URL without credentials (a token goes in GATEWAY_TOKEN), got ${shown}`,
    );
  }
  return url.toString().replace(/\/$/, '');
}

function headers(config: BurstConfig, json: boolean): Record<string, string> {
  return {
    ...(json ? { 'content-type': 'application/json' } : {}),
    ...(config.token === undefined ? {} : { authorization: `Bearer ${config.token}` }),
  };
}

/**
 * Runs the burst; `onProgress` is told after each response. Once `stopSignal` aborts, no request
 * starts, the sessions held for `--hold-ms` are closed at once, and those still waiting for an
 * answer get `ANSWER_GRACE_MS` to receive it before they are cut off (a hung gateway would
 * otherwise keep the burst from ever reporting).
 */
export async function runBurst(
  config: BurstConfig,
  onProgress?: (done: number) => void,
  stopSignal?: AbortSignal,
): Promise<BurstReport> {
  // Watched through onAbort: one listener for every request under way and session held.
  const stop = stopSignal ?? new AbortController().signal;
  const answersDue = graceAfter(stop, ANSWER_GRACE_MS);
  const statuses: Record<string, number> = {};
  const refusals: Record<string, number> = {};
  const latencyMs: number[] = [];
  const closes: Promise<unknown>[] = [];
  let created = 0;
  let done = 0;
  const started = performance.now();

  const one = async (i: number): Promise<void> => {
    const t0 = performance.now();
    let status = NETWORK_ERROR;
    // Cut off only while no answer has come: once one has, its body is read to the end, so a
    // session the gateway created is known and closed. The gateway closes those it created
    // for a client that left before its answer.
    const cutOff = new AbortController();
    const stopWatching = onAbort(answersDue, () => cutOff.abort());
    try {
      const response = await fetch(`${config.url}/v1/sessions`, {
        method: 'POST',
        headers: headers(config, true),
        body: JSON.stringify({
          userId: `burst-${i}`,
          // None named: the gateway's default, or the token's own tenant.
          tenantId: config.tenants[i % config.tenants.length],
        }),
        signal: cutOff.signal,
      });
      stopWatching();
      status = String(response.status);
      const body = (await response.json()) as { id?: string; error?: { code?: string } };
      if (response.status === 201 && body.id !== undefined) {
        created++;
        if (config.holdMs > 0) closes.push(closeLater(config, body.id, stop));
      } else if (body.error?.code !== undefined) {
        refusals[body.error.code] = (refusals[body.error.code] ?? 0) + 1;
      }
    } catch {
      if (cutOff.signal.aborted) status = INTERRUPTED; // otherwise counted as a network error
    }
    stopWatching();
    // Time to Ctrl-C is no latency of the gateway's.
    if (status !== INTERRUPTED) latencyMs.push(performance.now() - t0);
    statuses[status] = (statuses[status] ?? 0) + 1;
    done++; // not inside the optional call below: without onProgress it would not count
    onProgress?.(done);
  };

  if (config.rate !== undefined) {
    const spacing = 1000 / config.rate;
    const inFlight: Promise<void>[] = [];
    for (let i = 0; i < config.n; i++) {
      await sleep(started + i * spacing - performance.now(), stop);
      if (stop.aborted) break;
      inFlight.push(one(i));
    }
    await Promise.all(inFlight);
  } else {
    let next = 0;
    const lanes = Math.min(config.concurrency ?? config.n, config.n);
    await Promise.all(
      Array.from({ length: lanes }, async () => {
        while (next < config.n && !stop.aborted) await one(next++);
      }),
    );
  }
  await Promise.all(closes);
  return {
    requests: done,
    statuses,
    refusals,
    latencyMs,
    created,
    wallMs: performance.now() - started,
  };
}

/**
 * A signal that aborts `ms` after `stop` does. Its timer does not keep the process alive: a
 * burst whose answers all came before it has nothing left to cut off.
 */
function graceAfter(stop: AbortSignal, ms: number): AbortSignal {
  const due = new AbortController();
  const start = (): void => {
    setTimeout(() => due.abort(), ms).unref();
  };
  if (stop.aborted) start();
  else onAbort(stop, start);
  return due.signal;
}

async function closeLater(config: BurstConfig, id: string, stop: AbortSignal): Promise<void> {
  await sleep(config.holdMs, stop);
  await fetch(`${config.url}/v1/sessions/${encodeURIComponent(id)}`, {
    method: 'DELETE',
    headers: headers(config, false),
  }).catch(() => undefined); // the session is closed by the gateway's drain if this fails
}

/** Waits `ms` (nothing when not positive), or until `stop` aborts. */
function sleep(ms: number, stop: AbortSignal): Promise<void> {
  if (ms <= 0 || stop.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const stopWatching = onAbort(stop, () => {
      clearTimeout(timer);
      resolve();
    });
    const timer = setTimeout(() => {
      stopWatching();
      resolve();
    }, ms);
  });
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

/** The report for `--json`: latency as percentiles (ms), not every sample. */
function jsonReport(report: BurstReport): Record<string, unknown> {
  const { latencyMs, ...rest } = report;
  return {
    ...rest,
    latencyMs: Object.fromEntries(
      [50, 90, 99].map((p) => [`p${p}`, Math.round(percentile(latencyMs, p) * 100) / 100]),
    ),
  };
}

/** What to check when requests were refused with that status. */
const CHECK: Readonly<Record<string, string>> = {
  '401': "set GATEWAY_TOKEN to one of the gateway's tokens",
  '403': 'check that GATEWAY_TOKEN may act for every tenant of --tenants',
  '404': "check --url, the gateway's base URL (without /v1)",
};

/**
 * One line for each status that refused requests for themselves rather than for load: a 4xx
 * other than 429. Those requests never reached admission, so the report does not measure the
 * load asked for, even when some others did.
 */
function requestRefusals(report: BurstReport): string[] {
  return Object.entries(report.statuses)
    .filter(([status]) => /^4\d\d$/.test(status) && status !== '429')
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([status, n]) => {
      const check = CHECK[status] === undefined ? '' : `: ${CHECK[status]}`;
      return `${n} of ${report.requests} requests were refused ${status}${check}`;
    });
}

/** `voice-admission burst`: runs and prints the report (progress on a terminal). */
export async function burstCommand(argv: readonly string[]): Promise<number> {
  const config = parseBurstConfig(argv, process.env);
  const bar = new ProgressBar(process.stderr, config.n);
  // Ctrl-C (or SIGTERM) ends the burst early, closing the sessions it holds and reporting
  // what came back so far; a second signal exits at once.
  const stop = new AbortController();
  const interrupt = () => (stop.signal.aborted ? process.exit(130) : stop.abort());
  process.on('SIGINT', interrupt).on('SIGTERM', interrupt);
  const report = await runBurst(config, (done) => bar.update(done, 'responses'), stop.signal);
  process.off('SIGINT', interrupt).off('SIGTERM', interrupt);
  bar.end();
  process.stdout.write(
    config.json ? `${JSON.stringify(jsonReport(report))}\n` : `${formatBurstReport(report)}\n`,
  );
  if (stop.signal.aborted) return 130;
  const problems =
    report.statuses[NETWORK_ERROR] === report.requests
      ? [`no request reached ${config.url}`]
      : requestRefusals(report);
  for (const problem of problems) process.stderr.write(`voice-admission: ${problem}\n`);
  return problems.length === 0 ? 0 : 1;
}
