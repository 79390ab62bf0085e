import { ConfigError } from '../../iface/errors.js';
import { callListener } from '../../internal/emitter.js';
import { readBoundedText } from '../../internal/read-bounded.js';
import {
  abortSignalField,
  describeValue,
  durationField,
  functionField,
  knownKeys,
  objectOrUndefined,
  oneOf,
  stringField,
} from '../../internal/validate.js';
import { MAX_LATENCY_MS } from './slo-limit.js';

/** Why one evaluation of the query gave no quantile. */
export type LatencySignalErrorCode = 'unreachable' | 'query_failed' | 'no_data' | 'bad_value';

/** One failed evaluation; the limit goes on with what it had, then falls back when stale. */
export class LatencySignalError extends Error {
  override readonly name = 'LatencySignalError';
  readonly code: LatencySignalErrorCode;

  constructor(code: LatencySignalErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }
}

/** Where quantiles go: an `adaptive({ slo })` limit. */
export interface QuantileSink {
  observeQuantile(quantileMs: number): void;
}

export interface PrometheusLatencySignalOptions {
  /**
   * Prometheus' base URL, e.g. `http://prometheus:9090`. Credentials in it
   * (`http://user:password@prometheus:9090`) are sent as Basic authorization.
   */
  readonly url: string;
  /**
   * An instant query whose result is the objective's quantile over the objective's window, e.g.
   * `histogram_quantile(0.95, sum by (le) (rate(voice_turn_response_seconds_bucket[30s])))`.
   * With several series the highest counts (the slowest pool holds the limit).
   */
  readonly query: string;
  /** The unit of the query's result. Default `seconds` (Prometheus' convention). */
  readonly unit?: 'seconds' | 'milliseconds' | undefined;
  /** Time between evaluations. Default 5 000 ms. */
  readonly intervalMs?: number | undefined;
  /**
   * One evaluation's deadline. Default 2 000 ms. An answer over 16 MiB is dropped as
   * `query_failed`, however fast it comes.
   */
  readonly timeoutMs?: number | undefined;
  /** Called with each quantile taken, in ms. */
  readonly onQuantile?: ((quantileMs: number) => void) | undefined;
  /** Called with each failed evaluation. Default: none (the limit's `latency_signal` event says when the signal is missing). */
  readonly onError?: ((error: LatencySignalError) => void) | undefined;
  /** Stops the signal. */
  readonly signal?: AbortSignal | undefined;
}

export interface PrometheusLatencySignal {
  /** Stops evaluating; an evaluation under way is aborted. Idempotent. */
  stop(): void;
}

/**
 * Evaluates a PromQL quantile on an interval and feeds it to a limit with a latency objective,
 * the way a fleet of workers in any language exports its turn latencies. Admission never
 * waits for it: a failed or empty evaluation is reported to `onError` and skipped, and once
 * no quantile has arrived for the objective's `staleMs` the limit falls back to its configured
 * value. Evaluations never overlap; the timer does not keep the process alive.
 */
export function prometheusLatencySignal(
  sink: QuantileSink,
  options: PrometheusLatencySignalOptions,
): PrometheusLatencySignal {
  if (typeof sink?.observeQuantile !== 'function')
    throw new ConfigError('sink', `must be an adaptive({ slo }) limit, got ${describeValue(sink)}`);
  const f = 'prometheusLatencySignal';
  const value = objectOrUndefined(f, options);
  if (value === undefined) throw new ConfigError(f, 'options are required ({ url, query })');
  knownKeys(f, value, [
    'url',
    'query',
    'unit',
    'intervalMs',
    'timeoutMs',
    'onQuantile',
    'onError',
    'signal',
  ]);
  const { base, authorization } = parseUrl(`${f}.url`, stringField(`${f}.url`, value.url, true));
  const query = stringField(`${f}.query`, value.query, true);
  const scale =
    (oneOf(`${f}.unit`, value.unit, ['seconds', 'milliseconds']) ?? 'seconds') === 'seconds'
      ? 1_000
      : 1;
  const intervalMs = durationField(`${f}.intervalMs`, value.intervalMs, { min: 1 }, 5_000);
  const timeoutMs = durationField(`${f}.timeoutMs`, value.timeoutMs, { min: 1 }, 2_000);
  const onQuantile = functionField<(ms: number) => void>(`${f}.onQuantile`, value.onQuantile);
  const onError = functionField<(error: LatencySignalError) => void>(`${f}.onError`, value.onError);
  const external = abortSignalField(`${f}.signal`, value.signal);

  const endpoint = new URL('api/v1/query', base);
  endpoint.searchParams.set('query', query);
  const headers = {
    accept: 'application/json',
    ...(authorization === undefined ? {} : { authorization }),
  };
  const stopped = new AbortController();
  let timer: NodeJS.Timeout | undefined;

  const evaluate = async (): Promise<void> => {
    let quantileMs: number;
    try {
      const deadline = AbortSignal.any([stopped.signal, AbortSignal.timeout(timeoutMs)]);
      quantileMs = (await queryOnce(endpoint, headers, deadline)) * scale;
      // The bound every latency sample is taken under; past it the sink would refuse it.
      if (quantileMs > MAX_LATENCY_MS)
        throw new LatencySignalError(
          'bad_value',
          `the query returned ${quantileMs} ms, over one hour`,
        );
    } catch (error) {
      if (stopped.signal.aborted) return;
      callListener(
        onError,
        error instanceof LatencySignalError
          ? error
          : new LatencySignalError('unreachable', `cannot reach Prometheus at ${endpoint.origin}`, {
              cause: error,
            }),
      );
      return;
    }
    if (stopped.signal.aborted) return;
    // A sink of the caller's own may throw, as a callback may.
    callListener((ms: number) => sink.observeQuantile(ms), quantileMs);
    callListener(onQuantile, quantileMs);
  };
  const loop = (): void => {
    timer = setTimeout(() => {
      void evaluate().finally(() => {
        if (!stopped.signal.aborted) loop();
      });
    }, intervalMs);
    timer.unref();
  };
  const stop = (): void => {
    if (stopped.signal.aborted) return;
    stopped.abort();
    clearTimeout(timer);
    external?.removeEventListener('abort', stop);
  };
  if (external?.aborted) return { stop };
  external?.addEventListener('abort', stop, { once: true });
  void evaluate().finally(() => {
    if (!stopped.signal.aborted) loop();
  });
  return { stop };
}

/** The highest value of the query's instant vector (or its scalar). */
async function queryOnce(
  endpoint: URL,
  headers: Record<string, string>,
  signal: AbortSignal,
): Promise<number> {
  const response = await fetch(endpoint, { signal, headers });
  const body = parseJson(await readBounded(response)) as PrometheusAnswer | undefined;
  if (!response.ok || body?.status !== 'success') {
    throw new LatencySignalError(
      'query_failed',
      `Prometheus answered ${response.status}: ${String(body?.error ?? 'no JSON body').slice(0, 200)}`,
    );
  }
  const values = sampleValues(body.data);
  if (values === undefined)
    throw new LatencySignalError('query_failed', 'Prometheus answered with no query result');
  if (values.length === 0) throw new LatencySignalError('no_data', 'the query returned no samples');
  // Not Math.max(...values): a query of many series would overflow the call stack.
  const highest = values.reduce((a, b) => Math.max(a, b));
  if (!Number.isFinite(highest) || highest < 0)
    throw new LatencySignalError('bad_value', `the query returned ${highest}, not a latency`);
  return highest;
}

/**
 * The largest answer read, in bytes: a quantile's answer is a few hundred bytes, and 16 MiB
 * leaves room for very many series. Past it the answer is dropped as a failed query, so that a
 * misbehaving Prometheus (or a proxy in front of it) cannot make the process buffer without end.
 */
export const MAX_PROMETHEUS_ANSWER_BYTES = 16 * 1024 * 1024;

/** The answer's body as text, or a `query_failed` error once it grows past the bound. */
async function readBounded(response: Response): Promise<string> {
  const { body } = response;
  if (body === null) return '';
  const declared = Number(response.headers.get('content-length') ?? Number.NaN);
  const text =
    declared > MAX_PROMETHEUS_ANSWER_BYTES
      ? undefined
      : await readBoundedText(body, MAX_PROMETHEUS_ANSWER_BYTES);
  if (text !== undefined) return text;
  await body.cancel().catch(() => undefined);
  throw new LatencySignalError(
    'query_failed',
    `Prometheus answered ${response.status} with over ${MAX_PROMETHEUS_ANSWER_BYTES} bytes`,
  );
}

/** The value of a JSON text, undefined when it is none. */
function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/**
 * The numbers of an instant vector's samples or of a scalar (NaN ones left out), none for
 * another result type, undefined when the data is not shaped as Prometheus' API says.
 */
function sampleValues(data: PrometheusAnswer['data']): number[] | undefined {
  if (data?.resultType === 'scalar') {
    const value = pairValue(data.result);
    return value === undefined ? undefined : [value].filter((v) => !Number.isNaN(v));
  }
  if (data?.resultType !== 'vector') return [];
  if (!Array.isArray(data.result)) return undefined;
  const values: number[] = [];
  for (const sample of data.result as unknown[]) {
    const value = pairValue((sample as { value?: unknown } | null)?.value);
    if (value === undefined) return undefined;
    if (!Number.isNaN(value)) values.push(value);
  }
  return values;
}

/** The number of a `[time, "value"]` pair, undefined when it is not one. */
function pairValue(pair: unknown): number | undefined {
  return Array.isArray(pair) && pair.length === 2 && typeof pair[1] === 'string'
    ? Number(pair[1])
    : undefined;
}

interface PrometheusAnswer {
  readonly status?: string;
  readonly error?: unknown;
  readonly data?: { readonly resultType?: string; readonly result?: unknown };
}

/**
 * The base URL without credentials, and theirs as a Basic `authorization` header: fetch refuses
 * a URL that carries them (naming the URL, password included, in its error).
 */
function parseUrl(field: string, raw: string): { base: URL; authorization: string | undefined } {
  let url: URL;
  try {
    url = new URL(raw.endsWith('/') ? raw : `${raw}/`);
  } catch {
    throw new ConfigError(field, `must be an http(s) URL, got ${describeValue(raw)}`);
  }
  // The scheme alone: the URL may carry a password.
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new ConfigError(field, `must be an http(s) URL, got ${url.protocol}`);
  if (url.username === '' && url.password === '') return { base: url, authorization: undefined };
  const credentials = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
  url.username = '';
  url.password = '';
  return { base: url, authorization: `Basic ${Buffer.from(credentials).toString('base64')}` };
}
