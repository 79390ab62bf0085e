// Creates and closes sessions in rounds and prints the heap kept per finished session, read
// after forced collections. Run with --expose-gc. argv: sessions per round, smoothing on/off.
import { Admission } from '../../../src/admission/admission.js';
import { ControlledBackend } from '../controlled-backend.js';

const perRound = Number(process.argv[2] ?? 20_000);
const smoothing = process.argv[3] === 'smoothing';
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run with --expose-gc');

const backend = new ControlledBackend({ autoComplete: 'succeed' });
await backend.start();
const admission = new Admission(backend, {
  maxConcurrentSessions: 100,
  setup: smoothing ? { concurrency: 10, timeoutMs: 30_000 } : { timeoutMs: 30_000 },
  health: false,
});
// One long-lived signal passed to every call, as a server's shutdown signal would be: whatever
// a call hangs on it must come off when the call is over.
const shutdown = new AbortController();

async function round(): Promise<void> {
  for (let i = 0; i < perRound; i++) {
    const session = await admission.createSession(
      { userId: 'caller', idempotencyKey: `job-${i}` },
      { signal: shutdown.signal },
    );
    await session.close();
  }
}

function heapAfterGc(): number {
  for (let i = 0; i < 4; i++) gc!();
  return process.memoryUsage().heapUsed;
}

await round(); // warm-up: code, caches and pools reach their steady size
await round();
const before = heapAfterGc();
const rounds = 4;
for (let r = 0; r < rounds; r++) await round();
const after = heapAfterGc();
process.stdout.write(
  `${JSON.stringify({ sessions: rounds * perRound, bytesPerSession: (after - before) / (rounds * perRound) })}\n`,
);
