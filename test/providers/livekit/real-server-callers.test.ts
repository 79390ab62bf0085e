import type { IncomingMessage } from 'node:http';
import { Room } from '@livekit/rtc-node';
import { expect, it } from 'vitest';
import { Admission } from '../../../src/admission/admission.js';
import { BackendError } from '../../../src/iface/errors.js';
import type { LiveKitBackend, WebhookOutcome } from '../../../src/index.js';
import { describeWithLiveKitServer } from '../../support/livekit-server.js';
import { eventually, onCleanup, startWebhookSink } from './fixture.js';
import { joinAsCaller, realBackend, startIntakeWorker, startRealServer } from './real-fixture.js';

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

/** A webhook sink feeding the backend, resolving waiters on the outcomes it applies. */
async function webhookOutcomes(sink: Awaited<ReturnType<typeof startWebhookSink>>) {
  const seen: WebhookOutcome[] = [];
  const waiters: { match: (o: WebhookOutcome) => boolean; resolve: () => void }[] = [];
  return {
    seen,
    feed(backend: LiveKitBackend): void {
      sink.use((req, res) => {
        void readBody(req).then(async (body) => {
          const outcome = await backend.handleWebhook({
            body,
            authorization: req.headers.authorization,
          });
          seen.push(outcome);
          for (const waiter of waiters.filter((w) => w.match(outcome))) waiter.resolve();
          res.writeHead(200).end();
        });
      });
    },
    /** Resolves once an outcome matching `match` has been applied. */
    until(match: (o: WebhookOutcome) => boolean): Promise<void> {
      if (seen.some(match)) return Promise.resolve();
      return new Promise((resolve) => waiters.push({ match, resolve }));
    },
  };
}

describeWithLiveKitServer('LiveKit provider on the real server: callers and agents', () => {
  it('awaitAgent: with no worker to take the dispatch, the create fails setup_failed, the room is deleted and the slot freed', async () => {
    const real = await startRealServer();
    const backend = await realBackend(real, {
      awaitAgent: { timeoutMs: 600, pollIntervalMs: 100 },
    });
    const admission = new Admission(backend, { maxConcurrentSessions: 1, health: false });
    const error = await admission.createSession({ userId: 'u' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(BackendError);
    expect(error).toMatchObject({ code: 'setup_failed', op: 'create_session' });
    expect((error as Error).message).toMatch(/^no agent "intake" joined room va-.* within 600 ms/);
    expect(await real.roomNames()).toEqual([]);
    expect(admission.active).toBe(0);
  });

  it('awaitAgent: a job the worker rejects fails the create setup_failed within timeoutMs, rather than hanging', async () => {
    const real = await startRealServer();
    // One slot; a job offered while it is held waits 500 ms for it, then is rejected (the
    // worker reports itself almost full, not full, so the server still offers it jobs).
    const worker = await startIntakeWorker(real, {
      numIdleProcesses: 0,
      cap: 1,
      waitForSlotMs: 500,
    });
    const first = await realBackend(real, {
      emptyTimeout: 60,
      awaitAgent: { timeoutMs: 120_000, pollIntervalMs: 100 },
    });
    await first.createSession({ userId: 'first' });

    const backend = await realBackend(real, {
      emptyTimeout: 60,
      awaitAgent: { timeoutMs: 3_000, pollIntervalMs: 100 },
      requestTimeoutMs: 1_000,
    });
    const admission = new Admission(backend, { maxConcurrentSessions: 1, health: false });
    const started = performance.now();
    const error = await admission.createSession({ userId: 'second' }).catch((e: unknown) => e);
    const tookMs = performance.now() - started;
    expect(error).toMatchObject({ code: 'setup_failed', op: 'create_session' });
    expect(worker.state().rejected).toHaveLength(1);
    // The wait, then at most its last ListParticipants and the room's deletion.
    expect(tookMs).toBeGreaterThanOrEqual(3_000);
    expect(tookMs).toBeLessThan(3_000 + 2 * 1_000);
    expect(admission.active).toBe(0);
    expect(await real.roomNames()).toHaveLength(1);
  }, 120_000);

  it('a caller joining after its session ended re-creates the room (auto_create); the provider deletes it at once', async () => {
    const sink = await startWebhookSink();
    const real = await startRealServer({ webhookUrls: [sink.url] });
    const outcomes = await webhookOutcomes(sink);
    const backend = await realBackend(real, { emptyTimeout: 60 });
    outcomes.feed(backend);
    const deleted = new Promise<string>((resolve) =>
      backend.on('late_room_deleted', ({ roomName }) => resolve(roomName)),
    );
    const session = await backend.createSession({ userId: 'late-caller' });
    await session.close();
    expect(await real.roomNames()).toEqual([]);

    // Its token is still valid: joining re-creates the room, with no session behind it. The
    // room is deleted while the caller's connection may still be coming up, so the join is
    // not awaited: the deletion is what this is about.
    const late = new Room();
    onCleanup(() => late.disconnect());
    const joining = late.connect(session.connection.url, session.connection.token);
    joining.catch(() => undefined);
    expect(await deleted).toBe(session.connection.roomName);
    // The join may still be coming up and re-create the room once more (its participant_joined
    // webhook then deletes that one too), so the room is gone soon, not at this instant.
    let names: string[] = ['not read yet'];
    await eventually(
      () => names.length === 0,
      5_000,
      async () => {
        names = await real.roomNames();
      },
    );
  });

  it('endOnCallerLeft: a reconnect (same identity) keeps the session; the caller leaving closes it', async () => {
    const sink = await startWebhookSink();
    const real = await startRealServer({ webhookUrls: [sink.url] });
    const outcomes = await webhookOutcomes(sink);
    const backend = await realBackend(real, {
      emptyTimeout: 60,
      webhook: { endOnCallerLeft: true },
    });
    outcomes.feed(backend);
    const session = await backend.createSession({ userId: 'caller' });
    const first = await joinAsCaller(session);
    // The same caller connects again (e.g. a new network): the server replaces the first
    // participant and reports it as left.
    const second = await joinAsCaller(session);
    await first.disconnected;
    await outcomes.until((o) => o.event === 'participant_left');
    expect(outcomes.seen.find((o) => o.event === 'participant_left')?.action).toBe('ignored');
    expect(session.state).toBe('active');

    await second.leave();
    expect((await session.closed).reason).toBe('participant_left');
    expect(await real.roomNames()).toEqual([]);
  });
});
