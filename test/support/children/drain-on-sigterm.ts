// A service with open sessions that drains on SIGTERM; the drain timeout comes from argv, and
// 'failing-close' after it makes the closing after the drain fail.
import { Admission } from '../../../src/admission/admission.js';
import { drainOnSignals } from '../../../src/admission/drain-on-signals.js';
import { SimulatedBackend } from '../../../src/providers/simulated/simulated-backend.js';

const timeoutMs = Number(process.argv[2] ?? 200);
const failingClose = process.argv[3] === 'failing-close';
const backend = new SimulatedBackend({ providerConfig: { setupLatencyMs: 1 } });
await backend.start();
const admission = new Admission(backend, { maxConcurrentSessions: 5, health: false });
await Promise.all([1, 2, 3].map((i) => admission.createSession({ userId: `caller-${i}` })));
drainOnSignals(admission, {
  timeoutMs,
  onDrained: async (result) => {
    process.stdout.write(`${JSON.stringify(result)}\n`);
    await backend.stop();
    if (failingClose) throw new Error('the server did not close');
  },
});
// Stands in for the HTTP server that keeps a real service alive.
setInterval(() => undefined, 1_000);
process.stdout.write('ready\n');
