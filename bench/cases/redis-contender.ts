// One contender of the Redis bench, in a process of its own so that contenders do not share
// an event loop or a heap. The JSON argument names it; each "run" line on stdin runs one
// measurement of `durationMs` and prints { rate } (completed acquire + release cycles per
// second); "exit" ends.
import { Redis } from 'ioredis';
import { Semaphore } from 'redis-semaphore';
import { Admission } from '../../src/admission/admission.js';
import { redisStore } from '../../src/admission/store/redis/redis-store.js';
import { SimulatedBackend } from '../../src/providers/simulated/simulated-backend.js';

interface Plan {
  /** `admission-tenants`: Admission with one tenant per loop, so slots pass between tenants. */
  readonly contender: 'admission' | 'admission-tenants' | 'redis-semaphore' | 'floor';
  readonly url: string;
  /** The Admission contender's limiter name. */
  readonly limiter: string;
  readonly loops: number;
  readonly cap: number;
  readonly durationMs: number;
}

const plan = JSON.parse(process.argv[2]!) as Plan;
// The floor pipelines on its own; the others are measured with the client a user would pass.
const client = new Redis(plan.url, { enableAutoPipelining: plan.contender === 'floor' });

/** One cycle of loop `loop`, and how to close the contender. */
interface Cycles {
  readonly cycle: (loop: number) => Promise<void>;
  readonly close: () => Promise<void>;
}

async function contender(): Promise<Cycles> {
  switch (plan.contender) {
    case 'admission':
    case 'admission-tenants': {
      const store = redisStore({ redis: client, name: plan.limiter });
      const admission = new Admission(new SimulatedBackend(), {
        maxConcurrentSessions: plan.cap,
        queue: { maxSize: plan.loops, timeoutMs: 60_000 },
        health: false,
        telemetry: false,
        store,
      });
      // A waiter of the releasing tenant takes its slot over here, without a round trip; with a
      // tenant per loop, the fair queue hands each freed slot to another tenant, through Redis.
      const tenants = Array.from({ length: plan.loops }, (_, loop) =>
        plan.contender === 'admission' ? {} : { tenantId: `tenant-${loop}` },
      );
      return {
        cycle: async (loop) => {
          const slot = await admission.acquire(tenants[loop]);
          slot.release();
        },
        close: () => store.close(),
      };
    }
    case 'redis-semaphore': {
      const semaphores = Array.from(
        { length: plan.loops },
        () =>
          new Semaphore(client, 'bench:semaphore', plan.cap, {
            acquireTimeout: 60_000,
            // Cycles last microseconds: no refresh timer, which can race a release and throw.
            refreshInterval: 0,
          }),
      );
      let next = 0;
      return {
        cycle: async () => {
          const semaphore = semaphores[next++ % plan.loops]!;
          await semaphore.acquire();
          await semaphore.release();
        },
        close: async () => undefined,
      };
    }
    case 'floor':
      return {
        cycle: async () => {
          await client.incr('bench:counter');
          await client.decr('bench:counter');
        },
        close: async () => undefined,
      };
  }
}

const { cycle, close } = await contender();
const measure = async (): Promise<number> => {
  const started = performance.now();
  const until = started + plan.durationMs;
  let cycles = 0;
  await Promise.all(
    Array.from({ length: plan.loops }, async (_, loop) => {
      while (performance.now() < until) {
        await cycle(loop);
        cycles++;
      }
    }),
  );
  return cycles / ((performance.now() - started) / 1000);
};

process.stdout.write(`${JSON.stringify({ ready: true })}\n`);
let buffered = '';
process.stdin.on('data', (chunk: Buffer) => {
  buffered += chunk.toString();
  const lines = buffered.split('\n');
  buffered = lines.pop() ?? '';
  for (const line of lines) {
    if (line === 'run') {
      measure().then(
        (rate) => process.stdout.write(`${JSON.stringify({ rate })}\n`),
        (error: unknown) => {
          process.stderr.write(`${String(error)}\n`);
          process.exit(1);
        },
      );
    } else if (line === 'exit') {
      void close().then(() => {
        client.disconnect();
        process.exit(0);
      });
    }
  }
});
