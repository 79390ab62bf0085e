import { describe, expectTypeOf, it } from 'vitest';
import { Admission, type Instrumentation, type TelemetryOptions } from '../../src/index.js';
import {
  type ADMISSION_SPAN,
  type CREATE_SPAN,
  MissingPeerError,
  type OTHER_TENANT,
  openTelemetry,
  type SpanExporterLike,
  setupTracing,
} from '../../src/telemetry/index.js';

declare const admission: Admission;

describe('voice-admission/telemetry', () => {
  it('openTelemetry turns telemetry options into an Instrumentation an Admission takes', () => {
    expectTypeOf(openTelemetry).parameters.toEqualTypeOf<[raw?: TelemetryOptions]>();
    expectTypeOf(openTelemetry()).toEqualTypeOf<Instrumentation>();
    void new Admission(admission.backend, { telemetry: openTelemetry({ maxTenants: 20 }) });
    // @ts-expect-error no such telemetry option
    openTelemetry({ maxTenant: 20 });
  });

  it('the span names and the tenant label of the overflow are the documented literals', () => {
    expectTypeOf<typeof ADMISSION_SPAN>().toEqualTypeOf<'create_session_with_limit'>();
    expectTypeOf<typeof CREATE_SPAN>().toEqualTypeOf<'voice.backend.create_session'>();
    expectTypeOf<typeof OTHER_TENANT>().toEqualTypeOf<'other'>();
  });

  it('MissingPeerError is an Error with its code and the packages to install', () => {
    expectTypeOf<MissingPeerError>().toExtend<Error>();
    expectTypeOf<MissingPeerError['code']>().toEqualTypeOf<'missing_peer'>();
    expectTypeOf<MissingPeerError['packages']>().toEqualTypeOf<readonly string[]>();
    const error: unknown = undefined;
    if (error instanceof MissingPeerError) expectTypeOf(error.code).toEqualTypeOf<'missing_peer'>();
  });

  it('a tracing exporter needs export and shutdown, nothing of the SDK', () => {
    const exporter: SpanExporterLike = {
      export: (_spans, done) => done({ code: 0 }),
      shutdown: async () => undefined,
    };
    void setupTracing({ exporter });
    // @ts-expect-error an exporter shuts down
    const incomplete: SpanExporterLike = { export: () => undefined };
    void incomplete;
  });
});
