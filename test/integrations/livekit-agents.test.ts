import { JobRequest } from '@livekit/agents';
import { Job } from '@livekit/protocol';
import fc from 'fast-check';
import { Redis } from 'ioredis';
import { describe, expect, it, vi } from 'vitest';
import { Admission } from '../../src/admission/admission.js';
import type { AdmissionOptions } from '../../src/admission/options.js';
import { redisStore } from '../../src/admission/store/redis/redis-store.js';
import { admitAgentJobs } from '../../src/integrations/livekit-agents.js';
import { MAX_TIMER_MS } from '../../src/internal/validate.js';
import { API_KEY, API_SECRET, eventually, startStandIn } from '../providers/livekit/fixture.js';
import { describeWithBinary } from '../support/binaries.js';
import { ControlledBackend } from '../support/controlled-backend.js';
import { startRedis } from '../support/redis-server.js';

/** A real JobRequest, as the worker builds it, that records how it was answered. */
function jobRequest(id: string, roomSid = '', metadata = '') {
  const answers: string[] = [];
  const request = new JobRequest(
    new Job({ id, metadata, room: { name: `room-${id}`, sid: roomSid } }),
    async () => {
      answers.push('rejected');
    },
    async () => {
      answers.push('accepted');
    },
  );
  return { request, answers };
}

/** The part of the worker the adapter reads: the jobs running in its child processes. */
/** An Admission over a backend the test controls, with no health checks and no telemetry. */
function quietAdmission(options: Omit<AdmissionOptions, 'health' | 'telemetry'>): Admission {
  return new Admission(new ControlledBackend(), { ...options, health: false, telemetry: false });
}

function workerRunning(runningJobIds: readonly string[]) {
  return { activeJobs: runningJobIds.map((id) => ({ job: new Job({ id }) })) } as never;
}

describe('LiveKit agents adapter', () => {
  it('accepts a job only with a slot, reports utilization as load, and frees the slot when the job ends', async () => {
    const admission = quietAdmission({
      maxConcurrentSessions: 2,
    });
    const jobs = admitAgentJobs(admission, {
      tenantOf: (job) => job.room?.name ?? 'default',
      waitForSlotMs: 0,
    });
    // The server's default target load: it offers jobs only to workers below it.
    expect(jobs.loadThreshold).toBe(0.7);
    const [a, b, c] = [jobRequest('a'), jobRequest('b'), jobRequest('c')];
    await jobs.requestFunc(a.request);
    await jobs.requestFunc(b.request);
    await jobs.requestFunc(c.request);
    expect([a.answers, b.answers, c.answers]).toEqual([['accepted'], ['accepted'], ['rejected']]);
    expect(admission.active).toBe(2);
    // Without waiting, FULL exactly at capacity: utilization 1 reports the threshold itself.
    expect(await jobs.loadFunc(workerRunning(['a', 'b']))).toBe(jobs.loadThreshold);

    // Job a ends: its slot is freed once it has been missing from two load reports.
    expect(await jobs.loadFunc(workerRunning(['b']))).toBe(jobs.loadThreshold);
    expect(await jobs.loadFunc(workerRunning(['b']))).toBeCloseTo(0.5 * 0.7);
    expect(jobs.heldJobs()).toBe(1);
    const d = jobRequest('d');
    await jobs.requestFunc(d.request);
    expect(d.answers).toEqual(['accepted']);
    expect(admission.stats().tenants.map((t) => t.tenantId)).toEqual(['room-b', 'room-d']);
  });

  it('gives the slot back when an accepted job never starts, or when accepting fails', async () => {
    vi.useFakeTimers({ toFake: ['performance'] });
    try {
      const admission = quietAdmission({
        maxConcurrentSessions: 2,
      });
      const jobs = admitAgentJobs(admission, { startTimeoutMs: 30_000 });
      await jobs.requestFunc(jobRequest('never-starts').request);
      vi.advanceTimersByTime(29_000);
      expect(await jobs.loadFunc(workerRunning([]))).toBeCloseTo(0.5 * 0.7);
      vi.advanceTimersByTime(2_000);
      expect(await jobs.loadFunc(workerRunning([]))).toBe(0);

      const failing = {
        id: 'x',
        room: undefined,
        reject: async () => undefined,
        accept: async () => Promise.reject(new Error('worker closing')),
      };
      await expect(jobs.requestFunc(failing as never)).rejects.toThrow('worker closing');
      expect(admission.active).toBe(0);
      expect(jobs.heldJobs()).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });

  it('a draining or closed worker reports no load: its jobs that end give their slots back all the same', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    try {
      const admission = quietAdmission({ maxConcurrentSessions: 2 });
      const jobs = admitAgentJobs(admission, { waitForSlotMs: 0 });
      await jobs.requestFunc(jobRequest('a').request);
      await jobs.requestFunc(jobRequest('b').request);
      let running = ['a', 'b'];
      const worker = {
        get activeJobs() {
          return running.map((id) => ({ job: new Job({ id }) }));
        },
      } as never;
      await jobs.loadFunc(worker);
      // The worker drains: @livekit/agents stops calling loadFunc, and job a ends.
      running = ['b'];
      await vi.advanceTimersByTimeAsync(10_000);
      expect(jobs.heldJobs()).toBe(1);
      expect(admission.active).toBe(1);
      // Job b ends too; nothing is held, and nothing is left scheduled.
      running = [];
      await vi.advanceTimersByTimeAsync(10_000);
      expect(admission.active).toBe(0);
      expect(vi.getTimerCount()).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });

  // A key or accept arguments read from the job's metadata, which may not be JSON.
  const fromMetadata = (job: JobRequest) => JSON.parse(job.job.metadata).callId as string;
  it.each([
    ['idempotencyKey', { idempotencyKey: fromMetadata }],
    ['acceptArguments', { acceptArguments: (job: JobRequest) => ({ name: fromMetadata(job) }) }],
  ] as const)(
    'an %s that throws holds no slot: the worker rejects the job',
    async (_name, options) => {
      const admission = quietAdmission({
        maxConcurrentSessions: 1,
      });
      const jobs = admitAgentJobs(admission, { waitForSlotMs: 0, ...options });
      await expect(jobs.requestFunc(jobRequest('no-json').request)).rejects.toThrow(SyntaxError);
      expect(admission.active).toBe(0);
      expect(jobs.heldJobs()).toBe(0);
    },
  );

  it('the same job offered again while held (one after the other, or both at once) is accepted on the one slot it holds', async () => {
    const admission = quietAdmission({
      maxConcurrentSessions: 2,
    });
    const jobs = admitAgentJobs(admission, { waitForSlotMs: 0 });
    const [a1, a2] = [jobRequest('a'), jobRequest('a')];
    await Promise.all([jobs.requestFunc(a1.request), jobs.requestFunc(a2.request)]);
    const b = jobRequest('b');
    await jobs.requestFunc(b.request);
    // Every slot is taken, and job b still gets its answer the second time.
    const again = jobRequest('b');
    await jobs.requestFunc(again.request);
    expect([a1.answers, a2.answers, b.answers, again.answers]).toEqual([
      ['accepted'],
      ['accepted'],
      ['accepted'],
      ['accepted'],
    ]);
    expect(admission.active).toBe(2);

    // Both jobs end: every slot comes back.
    await jobs.loadFunc(workerRunning(['a', 'b']));
    await jobs.loadFunc(workerRunning([]));
    await jobs.loadFunc(workerRunning([]));
    expect(jobs.heldJobs()).toBe(0);
    expect(admission.active).toBe(0);
  });

  it('offers under one idempotency key at once (two dispatches for a call, one job offered twice): one is accepted, every slot taken is held by a job', async () => {
    await fc.assert(
      fc.asyncProperty(
        // Jobs a and b are two dispatches for call x, c and d for call y.
        fc.array(fc.constantFrom('a', 'b', 'c', 'd'), { minLength: 1, maxLength: 6 }),
        async (ids) => {
          const offers = ids.map((id) => ({ id, call: id < 'c' ? 'x' : 'y' }));
          const admission = quietAdmission({ maxConcurrentSessions: 6 });
          // The memory store cannot claim keys: the worker's own check is all there is.
          const jobs = admitAgentJobs(admission, {
            waitForSlotMs: 0,
            idempotencyKey: (job) => job.job.metadata,
          });
          const requests = offers.map(({ id, call }) => ({ call, ...jobRequest(id, '', call) }));
          await Promise.all(requests.map(({ request }) => jobs.requestFunc(request)));
          for (const { answers } of requests) expect(answers).toHaveLength(1);
          for (const call of ['x', 'y']) {
            const accepted = requests.filter((r) => r.call === call && r.answers[0] === 'accepted');
            expect(accepted.length).toBe(offers.some((o) => o.call === call) ? 1 : 0);
          }
          expect(admission.active).toBe(jobs.heldJobs());
          // Every held job ends: no slot is left behind.
          await jobs.loadFunc(workerRunning(offers.map((o) => o.id)));
          await jobs.loadFunc(workerRunning([]));
          await jobs.loadFunc(workerRunning([]));
          expect(admission.active).toBe(0);
        },
      ),
    );
  });

  it('a tenant the admission cannot take is an error the worker logs, not a silent rejection of every job', async () => {
    const admission = quietAdmission({
      maxConcurrentSessions: 1,
    });
    const jobs = admitAgentJobs(admission, { tenantOf: () => 'acme\n', waitForSlotMs: 0 });
    await expect(jobs.requestFunc(jobRequest('a').request)).rejects.toThrow(
      /request.tenantId: must be free of control characters/,
    );
    expect(admission.active).toBe(0);
  });

  it.each(['waitForSlotMs', 'endCheckIntervalMs'])(
    'refuses a %s a timer cannot hold when made, not at each job',
    (field) => {
      const admission = quietAdmission({
        maxConcurrentSessions: 1,
      });
      expect(() => admitAgentJobs(admission, { [field]: 2 ** 31 })).toThrow(
        `options.${field}: must be <= ${MAX_TIMER_MS} ms (the longest timer Node.js supports), got 2147483648`,
      );
    },
  );
});

describe('LiveKit agents adapter with the server (stand-in)', () => {
  async function fullWorker(options: { waitForSlotMs: number }) {
    const standIn = await startStandIn();
    standIn.addRoom('room-a');
    standIn.addRoom('room-b');
    const admission = quietAdmission({
      maxConcurrentSessions: 1,
      queue: { maxSize: 10 },
    });
    const jobs = admitAgentJobs(admission, {
      server: { url: standIn.url, apiKey: API_KEY, apiSecret: API_SECRET },
      ...options,
    });
    const a = jobRequest('a');
    await jobs.requestFunc(a.request);
    expect(a.answers).toEqual(['accepted']);
    const refusals: string[] = [];
    admission.on('refused', (event) => refusals.push(event.code));
    return { standIn, admission, jobs, refusals };
  }

  it('a job offered while every slot is taken waits, and takes the slot of the job whose room is gone', async () => {
    const { standIn, jobs, refusals } = await fullWorker({ waitForSlotMs: 600_000 });
    // Full, yet below the server's target load: the server keeps offering jobs.
    expect(await jobs.loadFunc(workerRunning([]))).toBeLessThan(jobs.loadThreshold);

    const b = jobRequest('b');
    const answered = jobs.requestFunc(b.request);
    // Job b waits while the checks find room a still there.
    const before = standIn.calls('RoomService/ListRooms');
    await eventually(() => standIn.calls('RoomService/ListRooms') >= before + 2);
    expect(b.answers).toEqual([]);

    // Job a's call ends: its room is deleted, and job b gets the slot without a load report.
    standIn.finishRoom('room-a');
    await answered;
    expect(b.answers).toEqual(['accepted']);
    expect(jobs.heldJobs()).toBe(1);
    // It waited and was admitted: no refusal is reported for it.
    expect(refusals).toEqual([]);
  });

  it('a job that waited without a slot coming back is rejected; with no wait, a full worker reports FULL', async () => {
    const waiting = await fullWorker({ waitForSlotMs: 50 });
    const b = jobRequest('b');
    await waiting.jobs.requestFunc(b.request);
    expect(b.answers).toEqual(['rejected']);
    // One refusal for the one rejected job.
    expect(waiting.refusals).toEqual(['queue_timeout']);
    expect(waiting.admission.active).toBe(1);

    const refusing = await fullWorker({ waitForSlotMs: 0 });
    expect(await refusing.jobs.loadFunc(workerRunning([]))).toBe(refusing.jobs.loadThreshold);
  });

  it('a job whose agent was in the room and left it (the room still there) gives its slot back at the next load report', async () => {
    const { standIn, jobs } = await fullWorker({ waitForSlotMs: 0 });
    standIn.join('room-a', 'agent-a');
    await jobs.loadFunc(workerRunning([]));
    expect(jobs.heldJobs()).toBe(1);
    standIn.leave('room-a', 'agent-a');
    await jobs.loadFunc(workerRunning([]));
    expect(jobs.heldJobs()).toBe(0);
  });

  it('jobs accepted under one agent identity are told apart: one whose room is gone frees its slot, one whose agent is in its room keeps it', async () => {
    const standIn = await startStandIn();
    standIn.addRoom('room-a');
    standIn.addRoom('room-b');
    const admission = quietAdmission({
      maxConcurrentSessions: 2,
    });
    // An identity needs to be unique only within its room: one name for every job is common.
    const jobs = admitAgentJobs(admission, {
      server: { url: standIn.url, apiKey: API_KEY, apiSecret: API_SECRET },
      acceptArguments: () => ({ identity: 'assistant' }),
    });
    await jobs.requestFunc(jobRequest('a').request);
    await jobs.requestFunc(jobRequest('b').request);
    standIn.join('room-a', 'assistant');
    standIn.finishRoom('room-b');
    await jobs.loadFunc(workerRunning([]));
    expect(jobs.heldJobs()).toBe(1);
    expect(admission.active).toBe(1);

    // Job a's agent leaves its room: its slot comes back too.
    standIn.leave('room-a', 'assistant');
    await jobs.loadFunc(workerRunning([]));
    expect(admission.active).toBe(0);
  });

  it('a job the server cannot be asked about (a wrong apiSecret) keeps its slot past startTimeoutMs: it may be running', async () => {
    vi.useFakeTimers({ toFake: ['performance'] });
    try {
      const standIn = await startStandIn();
      standIn.addRoom('room-a');
      const admission = quietAdmission({
        maxConcurrentSessions: 1,
      });
      const jobs = admitAgentJobs(admission, {
        server: { url: standIn.url, apiKey: API_KEY, apiSecret: 'not-the-secret'.repeat(3) },
        startTimeoutMs: 30_000,
      });
      await jobs.requestFunc(jobRequest('a').request);
      standIn.join('room-a', 'agent-a');
      vi.advanceTimersByTime(31_000);
      await jobs.loadFunc(workerRunning(['a']));
      expect(admission.active).toBe(1);
    } finally {
      vi.useRealTimers();
    }
  });

  it("a job's room deleted and re-created under the same name by its agent's late join is a new room: the slot comes back", async () => {
    const standIn = await startStandIn();
    standIn.addRoom('room-a');
    const admission = quietAdmission({
      maxConcurrentSessions: 1,
    });
    const jobs = admitAgentJobs(admission, {
      server: { url: standIn.url, apiKey: API_KEY, apiSecret: API_SECRET },
    });
    await jobs.requestFunc(jobRequest('a', standIn.room('room-a')!.sid).request);

    // The call ends before the agent's process connects; its join then re-creates the room.
    standIn.finishRoom('room-a');
    standIn.addRoom('room-a');
    standIn.join('room-a', 'agent-a');
    await jobs.loadFunc(workerRunning([]));
    expect(jobs.heldJobs()).toBe(0);
  });

  it('while a job waits for a slot, an agent leaving its room frees the slot without a load report', async () => {
    const { standIn, jobs } = await fullWorker({ waitForSlotMs: 600_000 });
    standIn.join('room-a', 'agent-a');
    const b = jobRequest('b');
    const answered = jobs.requestFunc(b.request);
    // The checks while b waits see agent a in its room.
    const before = standIn.calls('RoomService/ListParticipants');
    await eventually(() => standIn.calls('RoomService/ListParticipants') >= before + 2);
    expect(b.answers).toEqual([]);

    standIn.leave('room-a', 'agent-a');
    await answered;
    expect(b.answers).toEqual(['accepted']);
    expect(jobs.heldJobs()).toBe(1);
  });
});

describe('LiveKit agents adapter: invariants (stand-in server with failing calls)', () => {
  type Step =
    | { readonly kind: 'offer' }
    | { readonly kind: 'end'; readonly pick: number }
    | { readonly kind: 'report' }
    | { readonly kind: 'fail'; readonly times: number };
  const step: fc.Arbitrary<Step> = fc.oneof(
    fc.constant({ kind: 'offer' as const }),
    fc.record({ kind: fc.constant('end' as const), pick: fc.nat() }),
    fc.constant({ kind: 'report' as const }),
    fc.record({ kind: fc.constant('fail' as const), times: fc.integer({ min: 1, max: 4 }) }),
  );

  it('whatever the order of offers, ended calls, load reports and failed server calls: never more jobs held than slots, every offer answered once, a slot released only once its room is gone', async () => {
    const standIn = await startStandIn();
    let run = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 3 }),
        fc.array(step, { maxLength: 20 }),
        async (cap, steps) => {
          run += 1;
          const admission = quietAdmission({
            maxConcurrentSessions: cap,
            queue: { maxSize: 50 },
          });
          const jobs = admitAgentJobs(admission, {
            server: { url: standIn.url, apiKey: API_KEY, apiSecret: API_SECRET },
            waitForSlotMs: 20,
            endCheckIntervalMs: 5,
          });
          const offers: { room: string; answers: string[]; answered: Promise<void> }[] = [];
          const ended = new Set<string>();
          for (const next of steps) {
            if (next.kind === 'offer') {
              const id = `${run}-${offers.length}`;
              standIn.addRoom(`room-${id}`);
              const { request, answers } = jobRequest(id);
              offers.push({ room: `room-${id}`, answers, answered: jobs.requestFunc(request) });
            } else if (next.kind === 'end') {
              const live = offers.filter((o) => o.answers[0] === 'accepted' && !ended.has(o.room));
              const call = live[next.pick % Math.max(1, live.length)];
              if (call !== undefined) {
                standIn.finishRoom(call.room);
                ended.add(call.room);
              }
            } else if (next.kind === 'report') {
              await jobs.loadFunc(workerRunning([]));
            } else {
              standIn.inject({
                methods: ['ListRooms', 'ListParticipants'],
                error: 'internal',
                times: next.times,
              });
            }
            expect(jobs.heldJobs()).toBeLessThanOrEqual(cap);
            expect(admission.active).toBeLessThanOrEqual(cap);
          }
          await Promise.all(offers.map((o) => o.answered));
          standIn.clearFaults();
          for (const offer of offers) expect(offer.answers).toHaveLength(1);

          // With the server answering, a load report releases exactly the calls that ended.
          await jobs.loadFunc(workerRunning([]));
          const live = offers.filter((o) => o.answers[0] === 'accepted' && !ended.has(o.room));
          expect(jobs.heldJobs()).toBe(live.length);
          expect(admission.active).toBe(live.length);
        },
      ),
      { numRuns: 40 },
    );
  });
});

describeWithBinary('redis-server', 'LiveKit agents adapter: job idempotency across workers', () => {
  it('a job already held by one worker is rejected by another sharing the Redis store, until the first lets it go', async () => {
    const redis = await startRedis();
    redis.seedLimiter('intake-workers');
    const clients: Redis[] = [];
    try {
      const worker = () => {
        const client = new Redis(redis.url);
        clients.push(client);
        const admission = quietAdmission({
          maxConcurrentSessions: 4,
          store: redisStore({ redis: client, name: 'intake-workers' }),
        });
        return { admission, jobs: admitAgentJobs(admission, { idempotencyKey: (job) => job.id }) };
      };
      const [a, b] = [worker(), worker()];
      const first = jobRequest('AJ_same');
      await a.jobs.requestFunc(first.request);
      expect(first.answers).toEqual(['accepted']);

      // The same job handed to the second worker (e.g. re-dispatched after a disconnect).
      const duplicate = jobRequest('AJ_same');
      await b.jobs.requestFunc(duplicate.request);
      expect(duplicate.answers).toEqual(['rejected']);
      expect(b.admission.active).toBe(0);
      // And in the same worker too.
      const again = jobRequest('AJ_same');
      await a.jobs.requestFunc(again.request);
      expect(again.answers).toEqual(['rejected']);

      // The first job ends (it left activeJobs two reports running): the key is free again.
      await a.jobs.loadFunc(workerRunning(['AJ_same']));
      await a.jobs.loadFunc(workerRunning([]));
      await a.jobs.loadFunc(workerRunning([]));
      expect(a.jobs.heldJobs()).toBe(0);
      const later = jobRequest('AJ_same');
      await b.jobs.requestFunc(later.request);
      expect(later.answers).toEqual(['accepted']);
    } finally {
      await Promise.all(clients.map((client) => client.quit()));
      await redis.stop();
    }
  });
});
