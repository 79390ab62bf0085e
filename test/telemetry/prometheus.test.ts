import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Admission } from '../../src/index.js';
import { type PrometheusEndpoint, startPrometheus } from '../../src/telemetry/prometheus.js';
import { describeWithBinary } from '../support/binaries.js';
import { ControlledBackend } from '../support/controlled-backend.js';
import { type PrometheusServer, startPrometheusServer } from '../support/prometheus-server.js';

/** The named ```promql blocks of docs/autoscaling.md (`# name` on their first line). */
function documentedQueries(): Map<string, string> {
  const doc = readFileSync(new URL('../../docs/autoscaling.md', import.meta.url), 'utf8');
  const queries = new Map<string, string>();
  for (const [, block] of doc.matchAll(/```promql\n([\s\S]*?)```/g)) {
    const [first, ...rest] = block!.trim().split('\n');
    queries.set(first!.replace(/^#\s*/, ''), rest.join('\n'));
  }
  return queries;
}

describeWithBinary('prometheus', 'a real Prometheus scraping the exporter', () => {
  let endpoint: PrometheusEndpoint;
  let prometheus: PrometheusServer;

  beforeAll(async () => {
    endpoint = await startPrometheus({
      port: 0,
      host: '127.0.0.1',
      global: false,
      serviceName: 'prometheus-test',
    });
    prometheus = await startPrometheusServer(new URL(endpoint.url!));
  }, 60_000);
  afterAll(async () => {
    await prometheus?.stop();
    await endpoint?.stop();
  });

  it('answers the PromQL of docs/autoscaling.md with the utilization and queue depth admission has', async () => {
    const admission = new Admission(new ControlledBackend(), {
      maxConcurrentSessions: 4,
      queue: { maxSize: 10, timeoutMs: 120_000 },
      health: false,
      telemetry: { meterProvider: endpoint.meterProvider },
    });
    const held = await Promise.all([1, 2, 3].map(() => admission.acquire({ tenantId: 'acme' })));
    const filler = await admission.acquire({ tenantId: 'other-co' });
    const waiting = [
      admission.acquire({ tenantId: 'acme' }),
      admission.acquire({ tenantId: 'late' }),
    ];
    filler.release();
    // 3 of 4 slots held (the filler's went to the first waiter): utilization 1, one waiting.
    const queries = documentedQueries();
    const utilization = queries.get('utilization')!;
    const queueDepth = queries.get('queue-depth')!;
    expect(utilization).toContain('voice_backend_capacity_utilization');
    expect(queueDepth).toContain('voice_backend_admission_queue_depth');

    const eventually = async (promql: string, expected: number): Promise<void> => {
      let values: number[] = [];
      for (let i = 0; i < 100; i++) {
        values = await prometheus.query(promql);
        if (values.length === 1 && values[0] === expected) return;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      expect(values).toEqual([expected]);
    };
    await eventually(utilization, 1);
    await eventually(queueDepth, 1);

    for (const slot of held) slot.release();
    const [first, second] = await Promise.all(waiting);
    await eventually(utilization, 0.5);
    await eventually(queueDepth, 0);
    first!.release();
    second!.release();
    await eventually(utilization, 0);
  }, 120_000);

  it('runs every PromQL expression of docs/autoscaling.md, on label names the exporter has', async () => {
    const backend = new ControlledBackend({ autoComplete: 'succeed' });
    await backend.start();
    const admission = new Admission(backend, {
      maxConcurrentSessions: 1,
      health: false,
      telemetry: { meterProvider: endpoint.meterProvider },
    });
    const session = await admission.createSession({ userId: 'u', tenantId: 'acme' });
    await admission.createSession({ userId: 'v', tenantId: 'acme' }).catch(() => undefined);
    const text = await (await fetch(endpoint.url!)).text();
    const doc = readFileSync(new URL('../../docs/autoscaling.md', import.meta.url), 'utf8');
    const expressions = [
      ...documentedQueries().values(),
      // KEDA triggers, alert rules and the prometheus-adapter series query
      ...[...doc.matchAll(/^\s*(?:query|expr|- seriesQuery): '?(.+?)'?$/gm)].map((m) => m[1]!),
    ];
    expect(expressions.length).toBeGreaterThanOrEqual(10);
    for (const expression of expressions) {
      await expect(prometheus.query(expression), expression).resolves.toBeInstanceOf(Array);
      const labels = [
        ...[...expression.matchAll(/[{,]\s*(\w+)\s*(?:=~|!=|=)/g)].map((m) => m[1]!),
        ...[...expression.matchAll(/by \(([\w, ]+)\)/g)].flatMap((m) => m[1]!.split(/,\s*/)),
      ];
      for (const label of labels) {
        // namespace and pod come from Kubernetes service discovery, le from histograms
        if (['namespace', 'pod', 'le'].includes(label)) continue;
        expect(text, `${expression}: label ${label}`).toMatch(new RegExp(`[{,]${label}="`));
      }
    }
    await session.close();
    await admission.drain({ timeoutMs: 0 });
  });

  it('serves the exposition format with the documented series names and the service name', async () => {
    const text = await (await fetch(endpoint.url!)).text();
    expect(text).toMatch(/^target_info\{.*service_name="prometheus-test"/m);
    for (const series of [
      'voice_backend_active_sessions',
      'voice_backend_admission_queue_depth',
      'voice_backend_capacity_limit',
      'voice_backend_capacity_utilization',
      'voice_backend_admission_queue_wait_bucket',
    ]) {
      expect(text).toContain(series);
    }
  });
});
