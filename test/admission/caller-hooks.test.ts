import { describe, expect, it, vi } from 'vitest';
import { Admission } from '../../src/admission/admission.js';
import type { AdmissionOptions } from '../../src/admission/options.js';
import type { AdmissionTracer } from '../../src/admission/tracer.js';
import { noop } from '../../src/internal/abort.js';
import { ControlledBackend } from '../support/controlled-backend.js';
import { flush } from '../support/flush.js';
import { watchUnhandledRejections } from '../support/unhandled-rejections.js';

async function setup(options: Pick<AdmissionOptions, 'tracer' | 'telemetry'>) {
  const backend = new ControlledBackend();
  await backend.start();
  const admission = new Admission(backend, { maxConcurrentSessions: 2, health: false, ...options });
  return { backend, admission };
}

describe("hooks of the caller's that throw", () => {
  it("a tracer that throws costs no setup: the session is the backend's, created once", async () => {
    const broke = (where: string) => () => {
      throw new Error(`tracer broke in ${where}`);
    };
    const tracers: [string, AdmissionTracer][] = [
      ['startAdmission', { startAdmission: broke('startAdmission') }],
      ['end', { startAdmission: () => ({ runCreate: (create) => create(), end: broke('end') }) }],
      ['runCreate', { startAdmission: () => ({ runCreate: broke('runCreate'), end: noop }) }],
      [
        'runCreate after create',
        {
          startAdmission: () => ({
            runCreate: (create) => create().then(broke('runCreate after create')),
            end: noop,
          }),
        },
      ],
      [
        'no create',
        { startAdmission: () => ({ runCreate: async () => 'not a session' as never, end: noop }) },
      ],
    ];
    const warnings = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    const unhandled = watchUnhandledRejections();
    try {
      for (const [where, tracer] of tracers) {
        const { admission, backend } = await setup({ tracer });
        const created = admission.createSession({ userId: 'u' });
        await flush();
        expect(backend.pending.size).toBe(1);
        [...backend.pending.values()][0]!.succeed();
        const session = await created;
        expect([where, admission.active, backend.setupsStarted]).toEqual([where, 1, 1]);
        await session.close();
        await flush();
        expect([where, admission.active]).toEqual([where, 0]);
      }
      for (const where of ['startAdmission', 'end', 'runCreate'])
        expect(warnings).toHaveBeenCalledWith(
          expect.objectContaining({
            name: 'VoiceAdmissionListenerWarning',
            message: `tracer broke in ${where}`,
          }),
        );
      expect(unhandled.reasons).toEqual([]);
    } finally {
      unhandled.stop();
      warnings.mockRestore();
    }
  });

  it('an instrumentation whose detach throws fails no drain and no release: it is a warning', async () => {
    const warnings = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    const telemetry = {
      attach: () => ({
        tracer: undefined,
        detach: () => {
          throw new Error('detach broke');
        },
      }),
    };
    try {
      const idle = (await setup({ telemetry })).admission;
      await expect(idle.drain()).resolves.toMatchObject({ timedOut: false, activeAtStart: 0 });
      const { admission } = await setup({ telemetry });
      const slot = await admission.acquire();
      const drained = admission.drain();
      expect(slot.release()).toBe(true);
      await expect(drained).resolves.toMatchObject({ timedOut: false, activeAtStart: 1 });
      expect(warnings).toHaveBeenCalledTimes(2);
      expect(warnings).toHaveBeenCalledWith(
        expect.objectContaining({ name: 'VoiceAdmissionListenerWarning', message: 'detach broke' }),
      );
    } finally {
      warnings.mockRestore();
    }
  });
});
