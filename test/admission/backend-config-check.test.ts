import { describe, expect, it } from 'vitest';
import { adaptive } from '../../src/admission/adaptive/adaptive-limit.js';
import { memoryStore } from '../../src/admission/store/memory-store.js';
import type { OpenSessionRequest } from '../../src/backend/base-backend.js';
import { ConfigError } from '../../src/iface/errors.js';
import type { SessionConfig } from '../../src/iface/session.js';
import { Admission } from '../../src/index.js';
import { CheckingStore } from '../support/checking-store.js';
import { ControlledBackend } from '../support/controlled-backend.js';
import { flush } from '../support/flush.js';
import { testMeter } from '../support/metric-reader.js';

/** A backend with a rule of its own: it cannot serve the user id `agent`. */
class RuledBackend extends ControlledBackend {
  checks = 0;

  override checkSessionConfig(config: SessionConfig): void {
    this.checks++;
    if (config.userId === 'agent') {
      throw new ConfigError(
        'sessionConfig.userId',
        'must not be "agent": the agent is in the room',
      );
    }
  }
}

async function setup() {
  const backend = new RuledBackend({ autoComplete: 'succeed' });
  await backend.start();
  const store = new CheckingStore(memoryStore());
  const { meterProvider, read } = testMeter();
  const admission = new Admission(backend, {
    maxConcurrentSessions: 4,
    // Failures shrink both limits at once: a refusal counted as one would show here.
    limit: adaptive({ min: 1, max: 4, algorithm: { aimd: { latencyThresholdMs: 60_000 } } }),
    setup: {
      concurrency: adaptive({
        min: 1,
        max: 4,
        algorithm: { aimd: { latencyThresholdMs: 60_000 } },
      }),
      perSecond: 1,
    },
    health: false,
    store,
    telemetry: { meterProvider },
  });
  const events: string[] = [];
  for (const name of ['admitted', 'queued', 'refused', 'session_failed', 'limits'] as const) {
    admission.on(name, () => events.push(name));
  }
  return { backend, store, admission, events, read };
}

describe("Admission: the backend's own session config rules", () => {
  it("refuses a config the backend's check refuses before anything is taken, and counts it nowhere", async () => {
    const { backend, store, admission, events, read } = await setup();
    const before = admission.stats();

    const error = await admission
      .createSession({ userId: 'agent', idempotencyKey: 'call-1' })
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConfigError);
    expect(error).toMatchObject({ field: 'sessionConfig.userId' });
    expect(backend.checks).toBe(1);

    // No slot, no setup, no smoothing turn, no sample for the limits, no metric, no event.
    expect(store.acquired).toBe(0);
    expect(backend.setupsStarted).toBe(0);
    expect(admission.stats()).toEqual(before);
    expect(events).toEqual([]);
    expect(await read('voice.backend.session.create.duration')).toEqual([]);

    // The key was never taken: another user may create under it at once.
    const session = await admission.createSession({ userId: 'caller', idempotencyKey: 'call-1' });
    expect(session.userId).toBe('caller');
    expect(store.acquired).toBe(1);
    // The metric that stayed empty does record a setup.
    expect(await read('voice.backend.session.create.duration')).toMatchObject([{ value: 1 }]);
    await session.close();
    await flush();
    expect(store.unreleased()).toEqual([]);
  });

  it("runs the backend's check once admission's own validation passed, and only then", async () => {
    const { backend, admission } = await setup();
    await expect(admission.createSession({ userId: '' })).rejects.toThrow(
      /sessionConfig.userId: must be a non-empty string/,
    );
    expect(backend.checks).toBe(0);
  });

  it("the backend's create refuses with the same check, before any provider work", async () => {
    const { backend } = await setup();
    await expect(backend.createSession({ userId: 'agent' })).rejects.toThrow(ConfigError);
    expect(backend.setupsStarted).toBe(0);
  });
});

/** A backend that finds a config unservable only once its create runs, as one without the check. */
class LateRuledBackend extends ControlledBackend {
  protected override openSession(request: OpenSessionRequest) {
    if (request.config.userId === 'agent') {
      return Promise.reject(
        new ConfigError('sessionConfig.userId', 'must not be "agent": the agent is in the room'),
      );
    }
    return super.openSession(request);
  }
}

describe("Admission: a backend's create refusing the caller's config", () => {
  it('passes the ConfigError on, and the adaptive limits learn nothing from it', async () => {
    const backend = new LateRuledBackend({ autoComplete: 'fail' });
    await backend.start();
    const admission = new Admission(backend, {
      maxConcurrentSessions: 8,
      limit: adaptive({
        min: 1,
        max: 8,
        initial: 4,
        algorithm: { aimd: { latencyThresholdMs: 60_000 } },
      }),
      health: false,
    });
    for (let i = 0; i < 3; i++) {
      await expect(admission.createSession({ userId: 'agent' })).rejects.toMatchObject({
        name: 'ConfigError',
        field: 'sessionConfig.userId',
      });
    }
    expect(admission.limit).toBe(4);
    expect(admission.active).toBe(0);
    // A failure of the backend itself still shrinks it.
    await expect(admission.createSession({ userId: 'caller' })).rejects.toMatchObject({
      name: 'BackendError',
    });
    expect(admission.limit).toBeLessThan(4);
  });
});
