import {
  DiagConsoleLogger,
  diag,
  type ProxyTracerProvider,
  SpanStatusCode,
  type Tracer,
  type TracerProvider,
  trace,
} from '@opentelemetry/api';
import { InMemorySpanExporter, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Admission } from '../../src/index.js';
import { ADMISSION_SPAN, CREATE_SPAN } from '../../src/telemetry/spans.js';
import { setupTracing, type Tracing } from '../../src/telemetry/tracing.js';
import { ControlledBackend } from '../support/controlled-backend.js';
import { flush } from '../support/flush.js';

describe('admission spans', () => {
  const exporter = new InMemorySpanExporter();
  let tracing: Tracing;
  beforeAll(async () => {
    tracing = await setupTracing({ exporter, immediate: true, serviceName: 'spans-test' });
  });
  afterAll(async () => {
    await tracing.shutdown();
  });

  it('setupTracing refuses to register over the tracer provider registered before it', async () => {
    await expect(setupTracing({ exporter: new InMemorySpanExporter() })).rejects.toMatchObject({
      code: 'invalid_config',
      field: 'options.global',
    });
    const registered = trace.getTracerProvider() as ProxyTracerProvider;
    expect(registered.getDelegate()).toBe(tracing.tracerProvider);
  });

  const spansNamed = (name: string): ReadableSpan[] =>
    exporter.getFinishedSpans().filter((s) => s.name === name);

  it('wraps each admission, with the backend create as a child span and the outcome as attributes', async () => {
    exporter.reset();
    const backend = new ControlledBackend({ autoComplete: 'succeed' });
    await backend.start();
    const admission = new Admission(backend, { maxConcurrentSessions: 1, health: false });
    const session = await admission.createSession({ userId: 'caller-1', tenantId: 'acme' });
    const [admitted] = spansNamed(ADMISSION_SPAN);
    const [create] = spansNamed(CREATE_SPAN);
    expect(admitted?.attributes).toMatchObject({
      'voice.tenant': 'acme',
      'voice.admission.outcome': 'admitted',
      'voice.backend.active_sessions': 1,
      'voice.session.id': session.id,
    });
    expect(typeof admitted?.attributes['voice.admission.queue_wait_ms']).toBe('number');
    expect(create?.parentSpanContext?.spanId).toBe(admitted?.spanContext().spanId);
    expect(create?.spanContext().traceId).toBe(admitted?.spanContext().traceId);
    expect(admitted?.resource.attributes['service.name']).toBe('spans-test');
    // No user id unless asked for, and never the caller's token.
    const everything = JSON.stringify(
      exporter.getFinishedSpans().map((s) => [s.attributes, s.events]),
    );
    expect(everything).not.toContain('caller-1');
    expect(everything).not.toContain(session.connection.token);
    await session.close();
  });

  it('records refusals and failures with their code', async () => {
    exporter.reset();
    const backend = new ControlledBackend({ autoComplete: 'fail' });
    await backend.start();
    const admission = new Admission(backend, { maxConcurrentSessions: 1, health: false });
    await admission.createSession({ userId: 'u' }).catch(() => undefined);
    const held = await admission.acquire();
    await admission.createSession({ userId: 'u' }).catch(() => undefined);
    held.release();
    const [failed, refused] = spansNamed(ADMISSION_SPAN);
    expect(failed?.attributes).toMatchObject({
      'voice.admission.outcome': 'create_failed',
      'error.type': 'setup_failed',
    });
    expect(failed?.status.code).toBe(SpanStatusCode.ERROR);
    const [createFailed] = spansNamed(CREATE_SPAN);
    expect(createFailed?.status).toMatchObject({
      code: SpanStatusCode.ERROR,
      message: 'setup_failed',
    });
    expect(refused?.attributes).toMatchObject({
      'voice.admission.outcome': 'capacity',
      'error.type': 'capacity',
    });
    expect(refused?.events[0]?.name).toBe('exception');
  });

  it('records a failure thrown as a value with no string form, and ends its spans', async () => {
    exporter.reset();
    const backend = new ControlledBackend();
    await backend.start();
    vi.spyOn(backend, 'createSession').mockRejectedValueOnce(Object.create(null));
    const admission = new Admission(backend, { maxConcurrentSessions: 1, health: false });
    await admission.createSession({ userId: 'u' }).catch(() => undefined);
    await flush();
    const spans = [...spansNamed(ADMISSION_SPAN), ...spansNamed(CREATE_SPAN)];
    expect(spans).toHaveLength(2);
    for (const span of spans) {
      expect(span.events[0]?.attributes?.['exception.message']).toBe('[object Object]');
    }
  });

  it('keeps the passwords and tokens a backend quotes in its error out of span events', async () => {
    exporter.reset();
    const backend = new ControlledBackend();
    await backend.start();
    const admission = new Admission(backend, { maxConcurrentSessions: 1, health: false });
    const failed = admission.createSession({ userId: 'u' }).catch((e: unknown) => e);
    await flush();
    const jwt = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl';
    [...backend.pending.values()][0]!.fail(
      `POST https://svc:hunter2@media.example/rooms?access_token=${jwt} refused`,
    );
    await failed;
    const messages = exporter
      .getFinishedSpans()
      .flatMap((s) => s.events.map((e) => e.attributes?.['exception.message']));
    expect(messages).toHaveLength(2);
    for (const message of messages) {
      expect(message).toBe(
        'POST https://[redacted]@media.example/rooms?access_token=[redacted] refused',
      );
    }
  });

  it('admits as usual when the tracer throws, and reports the failure to diag', async () => {
    const backend = new ControlledBackend({ autoComplete: 'succeed' });
    await backend.start();
    const failing = (where: 'start' | 'end'): TracerProvider => ({
      getTracer: () =>
        ({
          startSpan: () => {
            if (where === 'start') throw new Error('tracer down');
            return {
              end: () => {
                throw new Error('exporter down');
              },
              setAttributes: () => undefined,
            };
          },
        }) as unknown as Tracer,
    });
    const reported: unknown[] = [];
    diag.setLogger({ ...new DiagConsoleLogger(), error: (...args) => reported.push(args) });
    try {
      for (const where of ['start', 'end'] as const) {
        const admission = new Admission(backend, {
          maxConcurrentSessions: 1,
          health: false,
          telemetry: { tracerProvider: failing(where) },
        });
        const session = await admission.createSession({ userId: 'u' });
        await session.close();
        await admission.drain();
      }
    } finally {
      diag.disable();
    }
    expect(JSON.stringify(reported)).toContain('the tracer failed');
  });

  it('puts the user id on spans only when recordUserId is set', async () => {
    exporter.reset();
    const backend = new ControlledBackend({ autoComplete: 'succeed' });
    await backend.start();
    const admission = new Admission(backend, {
      maxConcurrentSessions: 1,
      health: false,
      telemetry: { recordUserId: true },
    });
    const session = await admission.createSession({ userId: 'caller-2' });
    expect(spansNamed(ADMISSION_SPAN)[0]?.attributes['enduser.id']).toBe('caller-2');
    await session.close();
  });
});
