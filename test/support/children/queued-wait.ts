// A script whose last call waits in the admission queue; argv[2] says what can end the wait:
// 'deadline' (a queue timeout of 200 ms), 'release' (a holder releases its slot well before
// the queue timeout of 60 s), 'nothing' (no deadline, and no slot will ever be released).
import { Admission } from '../../../src/admission/admission.js';
import { SimulatedBackend } from '../../../src/providers/simulated/simulated-backend.js';

const QUEUE_TIMEOUT_MS: Record<string, number> = {
  deadline: 200,
  release: 60_000,
  nothing: Number.POSITIVE_INFINITY,
};
const mode = process.argv[2];
const backend = new SimulatedBackend({ providerConfig: { setupLatencyMs: 1 } });
await backend.start();
const admission = new Admission(backend, {
  maxConcurrentSessions: 1,
  health: false,
  queue: { maxSize: 10, timeoutMs: QUEUE_TIMEOUT_MS[mode ?? ''] },
});
const held = await admission.createSession({ userId: 'first' });
// The holder's own work (a call running its course) is what keeps a process alive while held.
if (mode === 'release') setTimeout(() => void held.close(), 200);
try {
  const session = await admission.createSession({ userId: 'second' });
  process.stdout.write(`admitted ${session.userId}\n`);
} catch (error) {
  process.stdout.write(`refused ${(error as { code?: string }).code}\n`);
}
await backend.stop();
