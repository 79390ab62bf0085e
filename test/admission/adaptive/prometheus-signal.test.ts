import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { adaptive } from '../../../src/admission/adaptive/adaptive-limit.js';
import {
  type LatencySignalError,
  MAX_PROMETHEUS_ANSWER_BYTES,
  prometheusLatencySignal,
} from '../../../src/admission/adaptive/prometheus-signal.js';
import { Admission } from '../../../src/admission/admission.js';
import { describeWithBinary } from '../../support/binaries.js';
import { ControlledBackend } from '../../support/controlled-backend.js';
import { freePort } from '../../support/free-port.js';
import {
  PROMETHEUS_USER,
  type PrometheusServer,
  startPrometheusServer,
} from '../../support/prometheus-server.js';
import { watchUnhandledRejections } from '../../support/unhandled-rejections.js';

/** Cumulative bucket counts of a turn-latency histogram, as a Python worker would export. */
let buckets: Record<string, number> = { '0.25': 0, '0.5': 100, '1': 100, '2': 100, '+Inf': 100 };

function exposition(): string {
  const lines = ['# TYPE voice_turn_response_seconds histogram'];
  for (const [le, count] of Object.entries(buckets))
    lines.push(`voice_turn_response_seconds_bucket{le="${le}"} ${count}`);
  lines.push(
    `voice_turn_response_seconds_count ${buckets['+Inf']}`,
    'voice_turn_response_seconds_sum 1',
    '',
  );
  return lines.join('\n');
}

/** The fleet's p95 over everything scraped (deterministic once scraped; a service would use rate()). */
const P95 = 'histogram_quantile(0.95, sum by (le) (voice_turn_response_seconds_bucket))';

/** Resolves with the first value `register` hands to its callback. */
function first<T>(register: (callback: (value: T) => void) => void): Promise<T> {
  return new Promise((resolve) => register(resolve));
}

describeWithBinary('prometheus', 'the Prometheus latency signal, against a real Prometheus', () => {
  let exporter: Server;
  let prometheus: PrometheusServer;

  beforeAll(async () => {
    exporter = createServer((_request, response) => {
      response.setHeader('content-type', 'text/plain; version=0.0.4');
      response.end(exposition());
    });
    exporter.listen(0, '127.0.0.1');
    await once(exporter, 'listening');
    const { port } = exporter.address() as AddressInfo;
    prometheus = await startPrometheusServer(new URL(`http://127.0.0.1:${port}/metrics`));
  }, 60_000);
  afterAll(async () => {
    await prometheus?.stop();
    exporter?.close();
  });

  it('steers the limit by the fleet quantile: grows under the target, shrinks over it', async () => {
    const backend = new ControlledBackend();
    await backend.start();
    const limit = adaptive({
      min: 1,
      max: 50,
      initial: 10,
      slo: { targetMs: 1_000, windowMs: 1_500, intervalMs: 100 },
    });
    const admission = new Admission(backend, { maxConcurrentSessions: 50, limit, health: false });
    const held = await Promise.all(Array.from({ length: 10 }, () => admission.acquire()));
    const quantiles: number[] = [];
    let onQuantile: ((ms: number) => void) | undefined;
    const signal = prometheusLatencySignal(limit, {
      url: prometheus.url,
      query: P95,
      intervalMs: 100,
      onQuantile: (ms) => {
        quantiles.push(ms);
        onQuantile?.(ms);
      },
    });
    // Linear within the (0.25, 0.5] bucket: 0.25 + 0.25 × 0.95 s.
    const grown = await first<number>((resolve) =>
      admission.on('limits', (e) => {
        if (e.limit > 10) resolve(e.limit);
      }),
    );
    expect(quantiles.at(-1)).toBeCloseTo(487.5);
    expect(grown).toBeGreaterThan(10);

    buckets = { '0.25': 0, '0.5': 0, '1': 0, '2': 100, '+Inf': 100 };
    const slow = await first<number>((resolve) => {
      onQuantile = (ms) => {
        if (ms > 1_000) resolve(ms);
      };
    });
    expect(slow).toBeCloseTo(1_950);
    const shrink = await first<{ from: number; to: number }>((resolve) => {
      let previous = admission.limit;
      admission.on('limits', (e) => {
        if (e.limit < previous) resolve({ from: previous, to: e.limit });
        previous = e.limit;
      });
    });
    // Gradient 1000 / 1950 (just over the floor of one half).
    expect(shrink.to).toBeGreaterThanOrEqual(Math.floor(shrink.from * 0.5));
    expect(shrink.to).toBeLessThanOrEqual(Math.ceil(((shrink.from + 1) * 1_000) / 1_950));
    // The live calls were never ended for it.
    expect(held.every((slot) => !slot.signal.aborted)).toBe(true);
    signal.stop();
    for (const slot of held) slot.release();
    await admission.drain();
  }, 60_000);

  it('reports failed evaluations by code; admission goes on and the limit falls back', async () => {
    const backend = new ControlledBackend();
    await backend.start();
    const limit = adaptive({
      min: 1,
      max: 50,
      initial: 6,
      slo: { targetMs: 1_000, windowMs: 300, intervalMs: 50, fallback: 6 },
    });
    const admission = new Admission(backend, { maxConcurrentSessions: 50, limit, health: false });
    // Heard from the start: the event comes once, when the signal turns missing a window after
    // the admission was made, which on a loaded machine is while the queries below still run.
    const signal = first<string>((resolve) =>
      admission.on('latency_signal', (e) => resolve(e.state)),
    );
    const codes = async (url: string, query: string): Promise<string> => {
      const stop = new AbortController();
      const error = await first<LatencySignalError>((resolve) =>
        prometheusLatencySignal(limit, {
          url,
          query,
          intervalMs: 50,
          onError: resolve,
          signal: stop.signal,
        }),
      );
      stop.abort();
      expect(error.message).not.toContain('token');
      return error.code;
    };
    const closedPort = await freePort();
    expect(await codes(`http://127.0.0.1:${closedPort}`, P95)).toBe('unreachable');
    expect(await codes(prometheus.url, 'histogram_quantile(')).toBe('query_failed');
    expect(await codes(prometheus.url, 'no_such_metric_seconds')).toBe('no_data');
    expect(await codes(prometheus.url, '-1')).toBe('bad_value');
    // Two hours: no turn's latency, and more than the limit takes as a sample.
    expect(await codes(prometheus.url, '7200')).toBe('bad_value');

    // Nothing arrived: the event says so and the limit is the configured one; admission admits.
    expect(await signal).toBe('missing');
    expect(admission.limit).toBe(6);
    const slot = await admission.acquire();
    slot.release();
    await admission.drain();
  }, 60_000);

  it('reports a callback or sink that throws as a warning, and goes on evaluating', async () => {
    const limit = adaptive({ min: 1, max: 5, slo: { targetMs: 1_000 } });
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on('warning', onWarning);
    const rejections = watchUnhandledRejections();
    let calls = 0;
    const signal = prometheusLatencySignal(limit, {
      url: prometheus.url,
      query: 'vector(0.5)',
      intervalMs: 50,
      onQuantile: () => {
        calls++;
        throw new Error('a dashboard that is down');
      },
    });
    let sinkCalls = 0;
    const brokenSink = prometheusLatencySignal(
      {
        observeQuantile: () => {
          sinkCalls++;
          throw new Error('a sink of its own that broke');
        },
      },
      { url: prometheus.url, query: 'vector(0.5)', intervalMs: 50 },
    );
    try {
      await expect.poll(() => calls, { timeout: 10_000 }).toBeGreaterThanOrEqual(3);
      await expect.poll(() => sinkCalls, { timeout: 10_000 }).toBeGreaterThanOrEqual(3);
      await expect.poll(() => warnings.length).toBeGreaterThanOrEqual(6);
    } finally {
      signal.stop();
      brokenSink.stop();
      process.off('warning', onWarning);
      rejections.stop();
    }
    expect(rejections.reasons).toEqual([]);
    // The two signals evaluate side by side: either may warn first.
    for (const message of ['a dashboard that is down', 'a sink of its own that broke']) {
      expect(warnings).toContainEqual(
        expect.objectContaining({ name: 'VoiceAdmissionListenerWarning', message }),
      );
    }
  }, 30_000);
});

it("queries a Prometheus behind basic auth with the URL's credentials, which no message shows", async () => {
  const prometheus = await startPrometheusServer(new URL('http://127.0.0.1:9/metrics'), {
    basicAuth: true,
  });
  try {
    const limit = adaptive({ min: 1, max: 5, slo: { targetMs: 1_000 } });
    const withUser = (password: string) => {
      const url = new URL(prometheus.url);
      url.username = PROMETHEUS_USER.name;
      url.password = password;
      return url.href;
    };
    const stop = new AbortController();
    const outcome = first<number | LatencySignalError>((settle) =>
      prometheusLatencySignal(limit, {
        url: withUser(PROMETHEUS_USER.password),
        query: 'vector(0.5)',
        onQuantile: settle,
        onError: settle,
        signal: stop.signal,
      }),
    );
    const refused = first<LatencySignalError>((onError) =>
      prometheusLatencySignal(limit, {
        url: withUser('not-the-password'),
        query: 'vector(0.5)',
        onError,
        signal: stop.signal,
      }),
    );
    expect(await outcome).toBe(500);
    const error = await refused;
    stop.abort();
    expect(error.code).toBe('query_failed');
    expect(`${error.message} ${String(error.cause)}`).not.toContain('not-the-password');
  } finally {
    await prometheus.stop();
  }
}, 60_000);

it('refuses bad options, naming the field', () => {
  const limit = adaptive({ min: 1, max: 5, slo: { targetMs: 100 } });
  expect(() => prometheusLatencySignal(limit, { url: 'ftp://x', query: 'up' })).toThrow(
    /prometheusLatencySignal\.url.*ftp/,
  );
  expect(() =>
    prometheusLatencySignal(limit, { url: 'ftp://reader:s3cret@x', query: 'up' }),
  ).toThrow(/^(?!.*s3cret).*url.*ftp/);
  expect(() => prometheusLatencySignal(limit, { url: 'http://127.0.0.1:9', query: '' })).toThrow(
    /prometheusLatencySignal\.query/,
  );
  expect(() =>
    prometheusLatencySignal(limit, {
      url: 'http://127.0.0.1:9',
      query: 'up',
      intervalMs: 0,
    }),
  ).toThrow(/prometheusLatencySignal\.intervalMs.*0/);
  expect(() =>
    prometheusLatencySignal({} as never, { url: 'http://127.0.0.1:9', query: 'up' }),
  ).toThrow(/sink/);
});

it('reports an answer that is no query result as query_failed or bad_value, not as unreachable', async () => {
  let body = '';
  const server = createServer((_request, response) => {
    response.setHeader('content-type', 'application/json');
    response.end(body);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const codeOf = async (answer: unknown): Promise<string> => {
    body = JSON.stringify(answer);
    const stop = new AbortController();
    const limit = adaptive({ min: 1, max: 5, slo: { targetMs: 1_000 } });
    const error = await first<LatencySignalError>((onError) =>
      prometheusLatencySignal(limit, {
        url: `http://127.0.0.1:${port}`,
        query: 'up',
        onError,
        signal: stop.signal,
      }),
    );
    stop.abort();
    return error.code;
  };
  const success = (data: unknown) => ({ status: 'success', data });
  try {
    expect(await codeOf(success({ resultType: 'vector', result: {} }))).toBe('query_failed');
    expect(await codeOf(success({ resultType: 'vector', result: [{}] }))).toBe('query_failed');
    expect(await codeOf(success({ resultType: 'vector', result: [{ value: 7 }] }))).toBe(
      'query_failed',
    );
    expect(await codeOf(success({ resultType: 'scalar', result: null }))).toBe('query_failed');
    // Too many series to spread into Math.max's arguments.
    const series = Array.from({ length: 200_000 }, () => ({ value: [0, 'NaN'] }));
    series.push({ value: [0, '7200'] });
    expect(await codeOf(success({ resultType: 'vector', result: series }))).toBe('bad_value');
  } finally {
    server.close();
  }
});

it('drops an answer past MAX_PROMETHEUS_ANSWER_BYTES as query_failed, unbuffered', async () => {
  const head = '{"status":"success","data":{"resultType":"vector","result":[]},"pad":"';
  const chunk = Buffer.alloc(64 * 1024, 'x');
  const over = MAX_PROMETHEUS_ANSWER_BYTES + chunk.length;
  let mode: 'declared' | 'chunked' | 'endless' = 'declared';
  const server = createServer((_request, response) => {
    response.setHeader('content-type', 'application/json');
    // A well-formed answer with no samples (no_data) were it read whole, except the endless one.
    if (mode === 'declared') {
      const body = `${head}${'x'.repeat(over)}"}`;
      response.setHeader('content-length', Buffer.byteLength(body));
      response.end(body);
      return;
    }
    let closed = false;
    response.on('close', () => {
      closed = true;
    });
    response.write(head);
    let sent = 0;
    const pump = (): void => {
      while (!closed && (mode === 'endless' || sent < over)) {
        sent += chunk.length;
        if (!response.write(chunk)) {
          response.once('drain', pump);
          return;
        }
      }
      if (!closed) response.end('"}');
    };
    pump();
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  const errorOf = async (): Promise<LatencySignalError> => {
    const stop = new AbortController();
    const limit = adaptive({ min: 1, max: 5, slo: { targetMs: 1_000 } });
    const error = await first<LatencySignalError>((onError) =>
      prometheusLatencySignal(limit, {
        url: `http://127.0.0.1:${port}`,
        query: 'up',
        // The bound, not the deadline, ends the endless answer.
        timeoutMs: 120_000,
        onError,
        signal: stop.signal,
      }),
    );
    stop.abort();
    return error;
  };
  try {
    for (const each of ['declared', 'chunked', 'endless'] as const) {
      mode = each;
      const error = await errorOf();
      expect({ mode, code: error.code }).toEqual({ mode, code: 'query_failed' });
      expect(error.message).toContain(`over ${MAX_PROMETHEUS_ANSWER_BYTES} bytes`);
    }
  } finally {
    server.closeAllConnections();
    server.close();
  }
}, 60_000);
