import { spawn } from 'node:child_process';
import { getEventListeners, once } from 'node:events';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Admission } from '../../src/admission/admission.js';
import { Slot } from '../../src/admission/gate/slot.js';
import { memoryStore } from '../../src/admission/store/memory-store.js';
import type { AdmissionRefusal } from '../../src/admission/types.js';
import { AdmissionError, BackendError, ConfigError } from '../../src/iface/errors.js';
import { Admission as PackageAdmission } from '../../src/index.js';
import { MAX_USER_ID_LENGTH } from '../../src/internal/session-config.js';
import { CheckingStore } from '../support/checking-store.js';
import { ControlledBackend } from '../support/controlled-backend.js';
import { useFakeClock } from '../support/fake-clock.js';
import { flush, settle, track } from '../support/flush.js';
import { HostileBackend, POLITE } from '../support/hostile-backend.js';
import { watchUnhandledRejections } from '../support/unhandled-rejections.js';

async function setup(options: Partial<ConstructorParameters<typeof Admission>[1]> = {}) {
  const backend = new ControlledBackend();
  await backend.start();
  const store = new CheckingStore(memoryStore());
  const admission = new Admission(backend, {
    maxConcurrentSessions: 2,
    health: false,
    store,
    ...options,
  });
  return { backend, store, admission };
}

afterEach(() => {
  vi.useRealTimers();
});

const queuedWaitScript = new URL('../support/children/queued-wait.ts', import.meta.url).pathname;

/** Runs the queued-wait script in `mode`; resolves with its exit code, output and run time. */
async function runQueuedWait(mode: string) {
  const started = performance.now();
  const child = spawn(process.execPath, ['--import', 'tsx', queuedWaitScript, mode], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const [code] = await once(child, 'exit');
  return { code, output, elapsedMs: performance.now() - started };
}

describe('Admission: slots and refusals', () => {
  it('reserves the slot before calling the backend, and refuses over the cap without calling it', async () => {
    const { backend, admission, store } = await setup();
    const first = track(admission.createSession({ userId: 'u1' }));
    // Reserved synchronously, inside the call: no check-then-create window.
    expect(store.held).toBe(1);
    const second = track(admission.createSession({ userId: 'u2' }));
    const third = admission.createSession({ userId: 'u3' });
    await expect(third).rejects.toMatchObject({
      name: 'AdmissionError',
      code: 'capacity',
      tenantId: 'default',
    });
    await flush();
    expect(backend.setupsStarted).toBe(2);
    for (const p of backend.pending.values()) p.succeed();
    await settle();
    expect(first.result.status).toBe('fulfilled');
    expect(second.result.status).toBe('fulfilled');
    expect(admission.active).toBe(2);
  });

  it("estimates the retry of a request its own tenant cap holds back from that tenant's slots", async () => {
    const { admission } = await setup({
      maxConcurrentSessions: 2,
      tenants: { max: { t: 1 } },
      queue: { maxSize: 1 },
    });
    // Nothing released yet, so slots are taken to last a second: two global slots free one
    // every 500 ms, the tenant's single slot one a second.
    const held = await admission.acquire({ tenantId: 't' });
    await expect(admission.acquire({ tenantId: 't' }, { timeoutMs: 5 })).rejects.toMatchObject({
      code: 'queue_timeout',
      retryAfterMs: 1_000,
    });
    const other = await admission.acquire({ tenantId: 'u' });
    // Held back by the global cap alone: the global estimate.
    await expect(admission.acquire({ tenantId: 'u' }, { timeoutMs: 5 })).rejects.toMatchObject({
      code: 'queue_timeout',
      retryAfterMs: 500,
    });
    const queued = admission.acquire({ tenantId: 't' });
    await expect(admission.acquire({ tenantId: 't' })).rejects.toMatchObject({
      code: 'queue_full',
      retryAfterMs: 2_000,
    });
    held.release();
    (await queued).release();
    other.release();
  });

  it('gives a retryAfterMs on refusals a retry can fix, and none on aborts', async () => {
    const { admission, backend } = await setup({ maxConcurrentSessions: 1 });
    backend.autoComplete = 'succeed';
    await admission.createSession({ userId: 'a' });
    const refusal = await admission.createSession({ userId: 'b' }).catch((e: unknown) => e);
    expect(refusal).toBeInstanceOf(AdmissionError);
    expect((refusal as AdmissionError).retryAfterMs).toBeGreaterThan(0);
    expect((refusal as AdmissionError).retryable).toBe(true);
    const controller = new AbortController();
    controller.abort();
    const aborted = await admission
      .createSession({ userId: 'c' }, { signal: controller.signal })
      .catch((e: unknown) => e);
    expect(aborted).toMatchObject({ code: 'aborted', retryAfterMs: undefined });
  });

  it('releases the slot exactly once when the session is closed, twice or not', async () => {
    const { admission, backend, store } = await setup();
    backend.autoComplete = 'succeed';
    const session = await admission.createSession({ userId: 'u' });
    expect(admission.active).toBe(1);
    const [a, b] = await Promise.all([session.close(), session.close()]);
    expect(a).toBe(b);
    expect(a.reason).toBe('closed');
    await flush();
    expect(admission.active).toBe(0);
    expect(store.violations).toEqual([]);
    expect(store.unreleased()).toEqual([]);
  });

  it('releases the slot of a session whose closed rejects with a value that has no string form, and warns of it', async () => {
    const { admission, backend, store } = await setup();
    const warnings = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    const unhandled = watchUnhandledRejections();
    try {
      const noStringForm = Object.create(null) as object;
      let rejectClosed = (_reason: unknown): void => undefined;
      const closed = new Promise<never>((_, reject) => {
        rejectClosed = reject;
      });
      const session = { id: 's1', close: () => closed, closed };
      vi.spyOn(backend, 'createSession').mockResolvedValueOnce(session as never);
      await admission.createSession({ userId: 'u' });
      rejectClosed(noStringForm);
      await flush();
      await new Promise((resolve) => setImmediate(resolve));
      expect(admission.active).toBe(0);
      expect(store.unreleased()).toEqual([]);
      expect(warnings).toHaveBeenCalledWith(
        expect.objectContaining({ name: 'VoiceAdmissionCloseWarning', message: '[object Object]' }),
      );
      expect(unhandled.reasons).toEqual([]);
    } finally {
      unhandled.stop();
      warnings.mockRestore();
    }
  });

  it('releases the slot of a session whose closed is a thenable that throws, and warns of it', async () => {
    const { admission, backend, store } = await setup();
    const warnings = vi.spyOn(process, 'emitWarning').mockImplementation(() => undefined);
    const unhandled = watchUnhandledRejections();
    try {
      const closed = {
        // biome-ignore lint/suspicious/noThenProperty: a thenable is what is tested
        then(): never {
          throw new Error('closed broke');
        },
      };
      const session = { id: 's1', close: async () => undefined, closed };
      vi.spyOn(backend, 'createSession').mockResolvedValueOnce(session as never);
      await expect(admission.createSession({ userId: 'u' })).resolves.toBe(session);
      await flush();
      await new Promise((resolve) => setImmediate(resolve));
      expect(admission.active).toBe(0);
      expect(store.unreleased()).toEqual([]);
      expect(warnings).toHaveBeenCalledWith(
        expect.objectContaining({ name: 'VoiceAdmissionCloseWarning', message: 'closed broke' }),
      );
      expect(unhandled.reasons).toEqual([]);
    } finally {
      unhandled.stop();
      warnings.mockRestore();
    }
  });

  it('releases the slot when the backend fails the create, and surfaces the BackendError', async () => {
    const { admission, backend, store } = await setup();
    const pending = admission.createSession({ userId: 'u' });
    await flush();
    [...backend.pending.values()][0]!.fail('room service said no');
    await expect(pending).rejects.toBeInstanceOf(BackendError);
    await expect(pending).rejects.toMatchObject({ code: 'setup_failed', op: 'create_session' });
    expect(admission.active).toBe(0);
    expect(store.unreleased()).toEqual([]);
  });

  it('refuses what a backend hands back that is not a session, and releases the slot', async () => {
    const { admission, backend, store } = await setup();
    for (const resolved of [undefined, null, 'session', { id: 's1' }, { id: 's1', close() {} }]) {
      vi.spyOn(backend, 'createSession').mockResolvedValueOnce(resolved as never);
      await expect(admission.createSession({ userId: 'u' })).rejects.toMatchObject({
        name: 'BackendError',
        code: 'internal',
        op: 'create_session',
        message: expect.stringContaining('not a VoiceSession'),
      });
      expect(admission.active).toBe(0);
    }
    expect(store.unreleased()).toEqual([]);
  });

  it('releases the slot when the caller aborts during setup, and the backend undoes its work', async () => {
    const { admission, backend, store } = await setup();
    const controller = new AbortController();
    const pending = admission.createSession({ userId: 'u' }, { signal: controller.signal });
    await flush();
    expect(backend.open).toBe(1);
    controller.abort(new Error('caller hung up'));
    await expect(pending).rejects.toMatchObject({
      code: 'aborted',
      message: 'the request was aborted during session setup',
    });
    expect(backend.open).toBe(0);
    expect(admission.active).toBe(0);
    expect(store.unreleased()).toEqual([]);
  });

  it('says whether a caller aborted while queued or during setup, a keyed retry alike', async () => {
    const { admission, backend } = await setup({ maxConcurrentSessions: 1, queue: { maxSize: 5 } });
    const blocker = admission.createSession({ userId: 'first' });
    await flush();
    const queued = new AbortController();
    const waiting = admission.createSession({ userId: 'q' }, { signal: queued.signal });
    await flush();
    queued.abort();
    await expect(waiting).rejects.toMatchObject({
      code: 'aborted',
      message: 'the request was aborted before it was admitted',
    });
    [...backend.pending.values()][0]!.succeed();
    await (await blocker).close();
    await flush();
    const config = { userId: 'keyed', idempotencyKey: 'job' };
    const first = admission.createSession(config);
    const retry = new AbortController();
    const retried = admission.createSession(config, { signal: retry.signal });
    await flush();
    expect(backend.pending.size).toBe(1);
    retry.abort();
    await expect(retried).rejects.toMatchObject({
      code: 'aborted',
      message: 'the request was aborted during session setup',
    });
    [...backend.pending.values()][0]!.succeed();
    await (await first).close();
  });

  it('releases the slot when the provider ends the session on its side', async () => {
    const { admission, backend } = await setup();
    backend.autoComplete = 'succeed';
    const session = await admission.createSession({ userId: 'u' });
    backend.endFromServer(session.id);
    await expect(session.closed).resolves.toMatchObject({ reason: 'remote_ended' });
    await flush();
    expect(admission.active).toBe(0);
  });

  it('releases every slot when the backend stops', async () => {
    const { admission, backend, store } = await setup();
    backend.autoComplete = 'succeed';
    const sessions = await Promise.all([
      admission.createSession({ userId: 'a' }),
      admission.createSession({ userId: 'b' }),
    ]);
    await backend.stop();
    for (const s of sessions)
      await expect(s.closed).resolves.toMatchObject({ reason: 'backend_stopped' });
    await flush();
    expect(admission.active).toBe(0);
    expect(store.unreleased()).toEqual([]);
    await expect(admission.createSession({ userId: 'c' })).rejects.toMatchObject({
      name: 'BackendError',
      code: 'stopped',
    });
    expect(admission.active).toBe(0);
  });

  it('answers creates under way with the stop and releases their slots when the backend stops', async () => {
    const { admission, backend, store } = await setup();
    const answers = [
      admission.createSession({ userId: 'a' }).catch((error: unknown) => error),
      admission.createSession({ userId: 'b', idempotencyKey: 'k' }).catch((e: unknown) => e),
    ];
    await flush();
    expect(backend.pending.size).toBe(2);
    await backend.stop();
    for (const answer of await Promise.all(answers)) {
      expect(answer).toMatchObject({ name: 'BackendError', code: 'stopped' });
    }
    await flush();
    expect(backend.open).toBe(0);
    expect(admission.active).toBe(0);
    expect(store.unreleased()).toEqual([]);
  });

  it('refuses a session config without userId before reserving anything', async () => {
    const { admission, backend, store } = await setup();
    await expect(admission.createSession({} as never)).rejects.toThrow(ConfigError);
    await expect(admission.createSession({ userId: '' })).rejects.toThrow(
      /sessionConfig.userId: must be a non-empty string, got ""/,
    );
    await expect(admission.createSession(null as never)).rejects.toThrow(/sessionConfig/);
    await expect(admission.createSession({ userId: 'u', color: 'red' } as never)).rejects.toThrow(
      /sessionConfig.color: unknown option/,
    );
    await expect(admission.createSession({ userId: 'u', tenantId: 'a\u0000b' })).rejects.toThrow(
      /sessionConfig.tenantId: must not contain control characters/,
    );
    await expect(
      admission.createSession({ userId: 'u', idempotencyKey: 'call\n1' }),
    ).rejects.toThrow(/sessionConfig.idempotencyKey: must not contain control characters/);
    // A key lands in a Redis key and a map: as long as the gateway takes, counted in characters.
    await expect(
      admission.createSession({ userId: 'u', idempotencyKey: 'k'.repeat(257) }),
    ).rejects.toThrow(/sessionConfig.idempotencyKey: must be at most 256 characters, got "kkk/);
    expect(store.acquired).toBe(0);
    backend.autoComplete = 'succeed';
    const longest = await admission.createSession({
      userId: 'u',
      idempotencyKey: '😀'.repeat(256),
    });
    expect(store.acquired).toBe(1);
    await longest.close();
  });

  it('refuses a userId past MAX_USER_ID_LENGTH characters, the bound the gateway takes too', async () => {
    const { admission, backend, store } = await setup();
    // A user id lands in the backend's identity, token and metadata: 10 MB must not get there.
    await expect(admission.createSession({ userId: 'u'.repeat(10_000_000) })).rejects.toThrow(
      /^sessionConfig\.userId: must be at most 256 characters, got "uuu/,
    );
    await expect(
      admission.createSession({ userId: 'u'.repeat(MAX_USER_ID_LENGTH + 1) }),
    ).rejects.toMatchObject({ name: 'ConfigError', field: 'sessionConfig.userId' });
    await expect(backend.createSession({ userId: 'u'.repeat(257) })).rejects.toThrow(ConfigError);
    expect(store.acquired).toBe(0);
    backend.autoComplete = 'succeed';
    // Counted in characters, as JSON Schema's maxLength counts them.
    const longest = await admission.createSession({ userId: '😀'.repeat(MAX_USER_ID_LENGTH) });
    expect(store.acquired).toBe(1);
    await longest.close();
  });

  it('reads the session config once: a changing field cannot be admitted as one value and created as another', async () => {
    const { admission, backend, store } = await setup({ tenants: { max: { A: 1, B: 0 } } });
    backend.autoComplete = 'succeed';
    let reads = 0;
    const capped = {
      userId: 'u',
      get tenantId() {
        reads++;
        return reads === 3 ? 'A' : 'B';
      },
    };
    await expect(admission.createSession(capped)).rejects.toMatchObject({
      code: 'tenant_capacity',
      tenantId: 'B',
    });
    expect(reads).toBe(1);
    expect(store.acquired).toBe(0);

    reads = 0;
    const session = await admission.createSession({
      userId: 'u',
      get tenantId() {
        reads++;
        return reads === 1 ? 'A' : 'B';
      },
    });
    expect(session.tenantId).toBe('A');
    expect(admission.stats().tenants).toMatchObject([{ tenantId: 'A', active: 1 }]);

    const own = new Error('the caller’s own');
    const throwing = {
      get userId(): string {
        throw own;
      },
    };
    await expect(admission.createSession(throwing)).rejects.toBe(own);
  });

  it('refuses metadata nested too deep to serialise (or with a cycle) before reserving anything', async () => {
    const { admission, store, backend } = await setup();
    // 65 levels: the object itself and 64 below it.
    const nested = (levels: number): Record<string, unknown> =>
      levels === 1 ? {} : { below: nested(levels - 1) };
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    for (const metadata of [nested(65), { list: [[[nested(62)]]] }, cyclic]) {
      await expect(admission.createSession({ userId: 'u', metadata })).rejects.toThrow(
        'sessionConfig.metadata: must be nested at most 64 levels deep (and hold no cycle)',
      );
      await expect(backend.createSession({ userId: 'u', metadata })).rejects.toThrow(ConfigError);
    }
    expect(store.acquired).toBe(0);
    const accepted = admission.createSession({ userId: 'u', metadata: nested(64) });
    await flush();
    for (const pending of backend.pending.values()) pending.succeed();
    await (await accepted).close();
  });

  it('refuses metadata that shares objects into more than 100,000 values, as JSON would write them', async () => {
    const { admission, store, backend } = await setup();
    // 40 levels, each object reached twice: 2^41 values to serialise, from 41 objects.
    let shared: Record<string, unknown> = { leaf: 1 };
    for (let level = 0; level < 40; level++) shared = { a: shared, b: shared };
    const message =
      'sessionConfig.metadata: must hold at most 100000 values, counting a shared object each time it is reached (as JSON writes it)';
    for (const metadata of [shared, { list: Array(100_001).fill(0) }, { list: Array(1e9) }]) {
      await expect(admission.createSession({ userId: 'u', metadata })).rejects.toThrow(message);
      await expect(backend.createSession({ userId: 'u', metadata })).rejects.toThrow(message);
    }
    expect(store.acquired).toBe(0);
    // The object itself holds 1 value, its list the other 99,999.
    const accepted = admission.createSession({
      userId: 'u',
      metadata: { list: Array(99_999).fill(0) },
    });
    await flush();
    for (const pending of backend.pending.values()) pending.succeed();
    await (await accepted).close();
  });

  it('refuses metadata whose keys and strings, each counted every time reached, pass 1,000,000 characters', async () => {
    const { admission, store, backend } = await setup();
    const block = 'x'.repeat(10_000);
    const message =
      'sessionConfig.metadata: must hold at most 1000000 characters of keys and strings, counting a shared one each time it is reached (as JSON writes it)';
    for (const metadata of [
      { strings: Array(101).fill(block) },
      { keys: Array(101).fill({ [block]: 0 }) },
      { text: 'x'.repeat(1_000_000) },
    ]) {
      await expect(admission.createSession({ userId: 'u', metadata })).rejects.toThrow(message);
      await expect(backend.createSession({ userId: 'u', metadata })).rejects.toThrow(message);
    }
    expect(store.acquired).toBe(0);
    // "text" and its string: 4 + 999,996 characters.
    const accepted = admission.createSession({
      userId: 'u',
      metadata: { text: 'x'.repeat(999_996) },
    });
    await flush();
    for (const pending of backend.pending.values()) pending.succeed();
    await (await accepted).close();
  });

  it('raw slots: acquire, run and release', async () => {
    const { admission } = await setup();
    const slot = await admission.acquire({ tenantId: 't' });
    expect(admission.stats().tenants).toEqual([
      { tenantId: 't', active: 1, queued: 0, limit: Number.POSITIVE_INFINITY },
    ]);
    expect(slot.release()).toBe(true);
    expect(slot.release()).toBe(false);
    expect(admission.active).toBe(0);
    const value = await admission.run({ tenantId: 't' }, async () => 42);
    expect(value).toBe(42);
    await expect(
      admission.run({}, async () => {
        throw new Error('work failed');
      }),
    ).rejects.toThrow('work failed');
    expect(admission.active).toBe(0);
  });
});

describe('Admission: tryAcquire', () => {
  it('grants or refuses synchronously, with the refusal as a value', async () => {
    const { admission, store } = await setup({
      maxConcurrentSessions: 1,
      tenants: { max: { capped: 0 } },
    });
    const slot = admission.tryAcquire({ tenantId: 't' });
    expect(slot).toBeInstanceOf(Slot);
    expect(store.held).toBe(1);
    expect(admission.tryAcquire({ tenantId: 't' })).toMatchObject({
      code: 'capacity',
      tenantId: 't',
    });
    (slot as Slot).release();
    const refusal = admission.tryAcquire({ tenantId: 'capped' });
    expect(refusal).toMatchObject({ code: 'tenant_capacity', tenantId: 'capped' });
    // Capped at 0: no wait helps, so no retry hint.
    expect((refusal as AdmissionRefusal).retryAfterMs).toBeUndefined();
    expect(() => admission.tryAcquire({ tenantId: '' })).toThrow(ConfigError);
  });

  it('does not overtake queued requests', async () => {
    const { admission } = await setup({ maxConcurrentSessions: 1, queue: { maxSize: 5 } });
    const held = admission.tryAcquire() as Slot;
    const waiting = admission.acquire();
    expect(admission.tryAcquire()).toMatchObject({ code: 'capacity' });
    held.release();
    (await waiting).release();
    expect(admission.tryAcquire()).toBeInstanceOf(Slot);
  });

  it('needs a synchronous store', async () => {
    const backend = new ControlledBackend();
    const asyncStore = {
      kind: 'remote',
      tryAcquire: async () => ({ refused: 'capacity' as const }),
      release: async () => undefined,
      usage: async () => ({ active: 0, tenants: new Map() }),
    };
    const admission = new Admission(backend, {
      maxConcurrentSessions: 1,
      health: false,
      store: asyncStore,
    });
    expect(() => admission.tryAcquire()).toThrow(
      /tryAcquire\(\) needs a synchronous store; the remote store/,
    );
  });
});

describe('Admission: queue', () => {
  it('queues when full and grants in order when slots free', async () => {
    const { admission } = await setup({ maxConcurrentSessions: 1, queue: { maxSize: 10 } });
    const first = await admission.acquire();
    const order: number[] = [];
    const waiters = [1, 2, 3].map((n) =>
      admission.acquire().then((slot) => {
        order.push(n);
        return slot;
      }),
    );
    expect(admission.queued).toBe(3);
    first.release();
    (await waiters[0]!).release();
    (await waiters[1]!).release();
    (await waiters[2]!).release();
    expect(order).toEqual([1, 2, 3]);
    expect(admission.queued).toBe(0);
    expect(admission.active).toBe(0);
  });

  it('refuses with queue_full past maxSize and past a tenant share', async () => {
    const { admission } = await setup({
      maxConcurrentSessions: 1,
      queue: { maxSize: 3, maxPerTenant: 2 },
    });
    await admission.acquire({ tenantId: 'a' });
    const queued = [admission.acquire({ tenantId: 'a' }), admission.acquire({ tenantId: 'a' })];
    await expect(admission.acquire({ tenantId: 'a' })).rejects.toMatchObject({
      code: 'queue_full',
      tenantId: 'a',
    });
    queued.push(admission.acquire({ tenantId: 'b' }));
    await expect(admission.acquire({ tenantId: 'c' })).rejects.toMatchObject({
      code: 'queue_full',
    });
    expect(admission.queued).toBe(3);
    const outcomes = queued.map((q) => q.catch((error: unknown) => error));
    await admission.drain({ timeoutMs: 0 });
    for (const outcome of await Promise.all(outcomes))
      expect(outcome).toMatchObject({ code: 'draining' });
  });

  it('run(): queued work runs once granted, its outcome is passed on, and the slot is released either way', async () => {
    const { admission, store } = await setup({ maxConcurrentSessions: 1, queue: { maxSize: 10 } });
    const held = await admission.acquire();
    const ran: string[] = [];
    const ok = admission.run({ tenantId: 'x' }, async (slot) => {
      ran.push(`ok:${slot.tenantId}:${admission.active}`);
      return 'done';
    });
    const failing = admission.run({ tenantId: 'y' }, () => {
      ran.push('failing');
      throw new Error('work failed');
    });
    expect(admission.queued).toBe(2);
    expect(ran).toEqual([]);
    held.release();
    await expect(ok).resolves.toBe('done');
    await expect(failing).rejects.toThrow('work failed');
    expect(ran).toEqual(['ok:x:1', 'failing']);
    expect(admission.active).toBe(0);
    expect(store.unreleased()).toEqual([]);
    await expect(admission.run({}, 'not a function' as never)).rejects.toThrow(
      /work: must be a function/,
    );
  });

  it('times out queued waiters with queue_timeout (default and per request)', async () => {
    useFakeClock();
    const { admission } = await setup({
      maxConcurrentSessions: 1,
      queue: { maxSize: 10, timeoutMs: 1_000 },
    });
    await admission.acquire();
    const byDefault = track(admission.acquire());
    const short = track(admission.acquire({}, { timeoutMs: 100 }));
    vi.advanceTimersByTime(99);
    await flush();
    expect(short.result.status).toBe('pending');
    vi.advanceTimersByTime(1);
    await flush();
    expect(short.result.error).toMatchObject({ code: 'queue_timeout' });
    expect(byDefault.result.status).toBe('pending');
    vi.advanceTimersByTime(900);
    await flush();
    expect(byDefault.result.error).toMatchObject({ code: 'queue_timeout' });
    expect((byDefault.result.error as AdmissionError).retryAfterMs).toBeGreaterThan(0);
    expect(admission.queued).toBe(0);
  });

  it('keeps the process alive while a request waits for its deadline, and no longer', async () => {
    const timedOut = await runQueuedWait('deadline');
    expect(timedOut).toMatchObject({ code: 0, output: 'refused queue_timeout\n' });
    // Admitted long before its 60 s deadline: the process ends with the script, not then.
    const admitted = await runQueuedWait('release');
    expect(admitted).toMatchObject({ code: 0, output: 'admitted second\n' });
    expect(admitted.elapsedMs).toBeLessThan(30_000);
  }, 60_000);

  it('keeps nothing alive for a request without a deadline that nothing can admit', async () => {
    // Node ends a script whose top-level await can never settle with code 13.
    expect(await runQueuedWait('nothing')).toMatchObject({ code: 13, output: '' });
  }, 60_000);

  it('a per-request timeout of 0 refuses instead of waiting', async () => {
    const { admission } = await setup({ maxConcurrentSessions: 1, queue: { maxSize: 10 } });
    await admission.acquire();
    await expect(admission.acquire({}, { timeoutMs: 0 })).rejects.toMatchObject({
      code: 'capacity',
    });
  });

  it('removes an aborted waiter from the queue at once', async () => {
    const { admission } = await setup({ maxConcurrentSessions: 1, queue: { maxSize: 10 } });
    const held = await admission.acquire();
    const controller = new AbortController();
    const waiting = admission.acquire({}, { signal: controller.signal });
    const next = admission.acquire();
    expect(admission.queued).toBe(2);
    controller.abort();
    await expect(waiting).rejects.toMatchObject({ code: 'aborted' });
    expect(admission.queued).toBe(1);
    held.release();
    const slot = await next;
    expect(slot.released).toBe(false);
  });

  it('hangs one abort listener on a signal shared by any number of waiting calls', async () => {
    const { admission } = await setup({
      maxConcurrentSessions: 1,
      queue: { maxSize: 50 },
    });
    // A server's shutdown signal passed to every call: more than 10 listeners on it would be
    // a MaxListenersExceededWarning, a leak alarm for calls that are merely waiting.
    const shutdown = new AbortController();
    const held = await admission.acquire();
    const waiting = Array.from({ length: 20 }, (_, i) =>
      i % 2 === 0
        ? admission.acquire({}, { signal: shutdown.signal }).catch((e: AdmissionError) => e.code)
        : admission
            .createSession({ userId: `caller-${i}` }, { signal: shutdown.signal })
            .catch((e: AdmissionError) => e.code),
    );
    await flush();
    expect(admission.queued).toBe(20);
    expect(getEventListeners(shutdown.signal, 'abort')).toHaveLength(1);
    shutdown.abort();
    expect(await Promise.all(waiting)).toEqual(waiting.map(() => 'aborted'));
    expect(admission.queued).toBe(0);
    expect(getEventListeners(shutdown.signal, 'abort')).toHaveLength(0);
    held.release();
    // And none is left behind by calls that finished without an abort.
    const other = new AbortController();
    const slot = await admission.acquire({}, { signal: other.signal });
    const next = admission.acquire({}, { signal: other.signal });
    expect(getEventListeners(other.signal, 'abort')).toHaveLength(1);
    slot.release();
    (await next).release();
    expect(getEventListeners(other.signal, 'abort')).toHaveLength(0);
  });

  it('serves higher priority first', async () => {
    const { admission } = await setup({ maxConcurrentSessions: 1, queue: { maxSize: 10 } });
    const held = await admission.acquire();
    const order: string[] = [];
    const low = admission.acquire({ tenantId: 'x', priority: 0 }).then((s) => {
      order.push('low');
      return s;
    });
    const high = admission.acquire({ tenantId: 'y', priority: 5 }).then((s) => {
      order.push('high');
      return s;
    });
    held.release();
    (await high).release();
    (await low).release();
    expect(order).toEqual(['high', 'low']);
  });
});

describe('Admission: tenants', () => {
  it('enforces per-tenant caps with a default and overrides, and lets other tenants through', async () => {
    const { admission } = await setup({
      maxConcurrentSessions: 10,
      tenants: { defaultMax: 1, max: { big: 2 } },
    });
    await admission.acquire({ tenantId: 'small' });
    await expect(admission.acquire({ tenantId: 'small' })).rejects.toMatchObject({
      code: 'tenant_capacity',
      tenantId: 'small',
    });
    await admission.acquire({ tenantId: 'big' });
    await admission.acquire({ tenantId: 'big' });
    await expect(admission.acquire({ tenantId: 'big' })).rejects.toMatchObject({
      code: 'tenant_capacity',
    });
    await expect(admission.acquire({ tenantId: 'other' })).resolves.toBeDefined();
  });

  it('refuses a tenant capped at 0 at once, for good, whatever the call, and queues none of it', async () => {
    const { admission, backend } = await setup({
      tenants: { max: { blocked: 0 } },
      queue: { maxSize: 10, timeoutMs: 60_000 },
    });
    const refusal = {
      name: 'AdmissionError',
      code: 'tenant_capacity',
      tenantId: 'blocked',
      retryAfterMs: undefined,
      retryable: false,
    };
    const calls = [
      admission.acquire({ tenantId: 'blocked' }),
      admission.run({ tenantId: 'blocked' }, () => 'ran'),
      admission.createSession({ userId: 'u', tenantId: 'blocked' }),
    ].map((call) => track<unknown>(call));
    expect(admission.queued).toBe(0);
    await flush();
    for (const call of calls) expect(call.result.error).toMatchObject(refusal);
    expect(admission.tryAcquire({ tenantId: 'blocked' })).toEqual({
      code: 'tenant_capacity',
      tenantId: 'blocked',
      retryAfterMs: undefined,
    });
    expect(backend.pending.size).toBe(0);
  });

  it('refuses the waiters of a tenant at once when its cap is lowered to 0', async () => {
    const { admission } = await setup({
      maxConcurrentSessions: 1,
      queue: { maxSize: 10, timeoutMs: 60_000 },
    });
    const held = await admission.acquire({ tenantId: 'other' });
    const waiting = [admission.acquire({ tenantId: 't' }), admission.acquire({ tenantId: 't' })];
    const bystander = admission.acquire({ tenantId: 'other' });
    const outcomes = waiting.map(track);
    admission.setTenantLimit('t', 0);
    await flush();
    for (const outcome of outcomes) {
      expect(outcome.result.error).toMatchObject({
        code: 'tenant_capacity',
        retryAfterMs: undefined,
      });
    }
    expect(admission.queued).toBe(1);
    held.release();
    (await bystander).release();

    admission.setTenantLimit('t', 1);
    await admission.acquire({ tenantId: 'other' });
    const queuedAgain = track(admission.acquire({ tenantId: 't' }));
    admission.setLimits({ tenants: { max: { t: 0 } } });
    await flush();
    expect(queuedAgain.result.error).toMatchObject({ code: 'tenant_capacity' });
    expect(admission.queued).toBe(0);
  });

  it('keeps each tenant capped at 0 shut out until its own cap is lifted, however often it was set', async () => {
    const { admission } = await setup({
      maxConcurrentSessions: 5,
      tenants: { max: { t: 0, u: 0 } },
    });
    const refusal = { code: 'tenant_capacity' };
    admission.setTenantLimit('t', 0);
    admission.setTenantLimit('t', undefined);
    (await admission.acquire({ tenantId: 't' })).release();
    await expect(admission.acquire({ tenantId: 'u' })).rejects.toMatchObject(refusal);
    admission.setLimits({ tenants: { max: { u: 0, v: 2 } } });
    (await admission.acquire({ tenantId: 't' })).release();
    await expect(admission.acquire({ tenantId: 'u' })).rejects.toMatchObject(refusal);
    admission.setTenantLimit('u', 1);
    (await admission.acquire({ tenantId: 'u' })).release();
  });

  it('changes caps at run time: raising admits waiters at once, lowering evicts nobody', async () => {
    const { admission } = await setup({ maxConcurrentSessions: 1, queue: { maxSize: 10 } });
    await admission.acquire();
    const waiting = track(admission.acquire());
    await flush();
    expect(waiting.result.status).toBe('pending');
    admission.setLimits({ maxConcurrentSessions: 2 });
    await flush();
    expect(waiting.result.status).toBe('fulfilled');
    admission.setLimits({ maxConcurrentSessions: 1 });
    expect(admission.active).toBe(2);
    await expect(admission.acquire({}, { timeoutMs: 0 })).rejects.toMatchObject({
      code: 'capacity',
    });
    admission.setTenantLimit('t', 0);
    await expect(admission.acquire({ tenantId: 't' }, { timeoutMs: 0 })).rejects.toMatchObject({
      code: 'tenant_capacity',
    });
    expect(admission.tenantLimit('t')).toBe(0);
    admission.setTenantLimit('t', undefined);
    expect(admission.tenantLimit('t')).toBe(Number.POSITIVE_INFINITY);
    expect(() => admission.setLimits({ maxConcurrentSessions: -1 })).toThrow(
      /update.maxConcurrentSessions: must be >= 1, got -1/,
    );
  });
});

describe('Admission: stats and events', () => {
  it('reports admitted, queued, dequeued, refused and released events', async () => {
    const { admission } = await setup({ maxConcurrentSessions: 1, queue: { maxSize: 1 } });
    const events: string[] = [];
    admission.on('admitted', (e) => events.push(`admitted:${e.tenantId}:${e.active}`));
    admission.on('queued', (e) => events.push(`queued:${e.tenantId}:${e.depth}`));
    admission.on('dequeued', (e) => events.push(`dequeued:${e.outcome}`));
    admission.on('refused', (e) => events.push(`refused:${e.code}`));
    admission.on('released', (e) => events.push(`released:${e.active}`));
    const slot = await admission.acquire({ tenantId: 'a' });
    const waiting = admission.acquire({ tenantId: 'b' });
    await expect(admission.acquire({ tenantId: 'c' })).rejects.toMatchObject({
      code: 'queue_full',
    });
    slot.release();
    (await waiting).release();
    expect(events).toEqual([
      'admitted:a:1',
      'queued:b:1',
      'refused:queue_full',
      'released:0',
      'dequeued:admitted',
      'admitted:b:1',
      'released:0',
    ]);
  });

  it('gives stats that add up inside every event listener: a waiter dequeued admitted is counted active', async () => {
    const { admission } = await setup({ maxConcurrentSessions: 1, queue: { maxSize: 1 } });
    const seen: string[] = [];
    for (const event of ['admitted', 'queued', 'dequeued', 'released'] as const) {
      admission.on(event, () => {
        const { active, queued, tenants } = admission.stats();
        const byTenant = tenants.reduce((sum, tenant) => sum + tenant.active, 0);
        const queuedByTenant = tenants.reduce((sum, tenant) => sum + tenant.queued, 0);
        seen.push(`${event}: active ${active}/${byTenant} queued ${queued}/${queuedByTenant}`);
      });
    }
    const slot = await admission.acquire({ tenantId: 'a' });
    const waiting = admission.acquire({ tenantId: 'b' });
    slot.release();
    (await waiting).release();
    expect(seen).toEqual([
      'admitted: active 1/1 queued 0/0',
      'queued: active 1/1 queued 1/1',
      'released: active 0/0 queued 1/1',
      'dequeued: active 1/1 queued 0/0',
      'admitted: active 1/1 queued 0/0',
      'released: active 0/0 queued 0/0',
    ]);
  });

  it('reports no negative wait for a request queued by a release listener and granted by that release', async () => {
    const { admission } = await setup({ maxConcurrentSessions: 1, queue: { maxSize: 1 } });
    // Every clock read later than the one before, so the order of reads shows in the waits.
    let clock = 0;
    const now = vi.spyOn(performance, 'now').mockImplementation(() => ++clock);
    try {
      const waits: number[] = [];
      admission.on('dequeued', (e) => waits.push(e.waitedMs));
      const slot = await admission.acquire();
      let queued: Promise<Slot> | undefined;
      const stop = admission.on('released', () => {
        stop();
        // The released slot is not back in the store yet: this request queues.
        queued = admission.acquire();
      });
      slot.release();
      const granted = await queued!;
      expect(waits).toHaveLength(1);
      expect(waits[0]).toBeGreaterThanOrEqual(0);
      expect(granted.waitedMs).toBe(waits[0]);
      granted.release();
    } finally {
      now.mockRestore();
    }
  });

  it('reads the clock once for a pass that times out many waiters, and once for a drain that refuses many', async () => {
    useFakeClock();
    const { admission } = await setup({
      maxConcurrentSessions: 1,
      queue: { maxSize: 100, timeoutMs: 1_000 },
    });
    const waits: number[] = [];
    admission.on('dequeued', (e) => waits.push(e.waitedMs));
    const slot = await admission.acquire();
    const refused = (count: number) =>
      Array.from({ length: count }, () => admission.acquire().catch((e: AdmissionError) => e.code));
    const timingOut = refused(50);
    vi.advanceTimersByTime(500);
    const draining = refused(50);
    const now = vi.spyOn(performance, 'now');
    vi.advanceTimersByTime(500);
    expect(now.mock.calls.length).toBeLessThan(5);
    expect(await Promise.all(timingOut)).toEqual(timingOut.map(() => 'queue_timeout'));
    now.mockClear();
    const drained = admission.drain({ timeoutMs: 0 });
    expect(now.mock.calls.length).toBeLessThan(5);
    expect(await Promise.all(draining)).toEqual(draining.map(() => 'draining'));
    expect(waits).toEqual([...timingOut.map(() => 1_000), ...draining.map(() => 500)]);
    slot.release();
    await drained;
    now.mockRestore();
  });

  it('a throwing listener does not break admission: it is a warning named for it', async () => {
    const { admission } = await setup();
    const bug = new Error('listener bug');
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on('warning', onWarning);
    admission.on('admitted', () => {
      throw bug;
    });
    try {
      const slot = await admission.acquire();
      // Warnings are emitted on a later tick.
      await new Promise(setImmediate);
      expect(warnings).toEqual([
        expect.objectContaining({
          name: 'VoiceAdmissionListenerWarning',
          message: 'listener bug',
          cause: bug,
        }),
      ]);
      expect(slot.release()).toBe(true);
      expect(admission.active).toBe(0);
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('an async listener that rejects does not break admission either: it is the same warning', async () => {
    const { admission } = await setup();
    const bug = new Error('async listener bug');
    const warnings: Error[] = [];
    const onWarning = (warning: Error) => warnings.push(warning);
    process.on('warning', onWarning);
    admission.on('released', async () => {
      throw bug;
    });
    try {
      const slot = await admission.acquire();
      expect(slot.release()).toBe(true);
      // The rejection is seen on a later tick, and its warning emitted on the one after.
      await new Promise(setImmediate);
      await new Promise(setImmediate);
      expect(warnings).toEqual([
        expect.objectContaining({
          name: 'VoiceAdmissionListenerWarning',
          message: 'async listener bug',
          cause: bug,
        }),
      ]);
      expect(admission.active).toBe(0);
    } finally {
      process.off('warning', onWarning);
    }
  });

  it('removes only its own subscription: one function added twice is still called once after one removal', async () => {
    const { admission } = await setup();
    const seen: number[] = [];
    const record = (e: { active: number }) => seen.push(e.active);
    const offFirst = admission.on('admitted', record);
    admission.on('admitted', record);
    offFirst();
    // Calling it again removes nothing more.
    offFirst();
    (await admission.acquire()).release();
    expect(seen).toEqual([1]);
  });

  it('refuses a listener that is not a function when it is added', async () => {
    const { admission } = await setup();
    expect(() => admission.on('admitted', 'log' as never)).toThrow(
      /^listener: must be a function, got "log"$/,
    );
    const slot = await admission.acquire();
    slot.release();
  });
});

describe('a backend whose create answers inside the call, not with a promise', () => {
  // The package entry's Admission, with its telemetry on by default, traces each create.
  it('is admitted with the session it returned, which holds its slot until closed', async () => {
    const backend = new HostileBackend();
    backend.plan = () => ({ ...POLITE, synchronous: true });
    const admission = new PackageAdmission(backend, { maxConcurrentSessions: 1, health: false });
    const session = await admission.createSession({ userId: 'u' });
    expect(backend.open).toBe(1);
    expect(admission.active).toBe(1);
    await session.close();
    await flush();
    expect(admission.active).toBe(0);
  });

  it('is answered with the failure it threw, and its slot released', async () => {
    const backend = new HostileBackend();
    backend.plan = () => ({ ...POLITE, synchronous: true, outcome: 'fail' });
    const admission = new PackageAdmission(backend, { maxConcurrentSessions: 1, health: false });
    await expect(admission.createSession({ userId: 'u' })).rejects.toMatchObject({
      code: 'setup_failed',
    });
    expect(admission.active).toBe(0);
  });
});
