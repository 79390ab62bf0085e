import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { Admission } from '../../../src/admission/admission.js';
import { eventually, liveKitBackend, onCleanup, startStandIn } from './fixture.js';

const REQUEST_TIMEOUT_MS = 200;

/** A promise and the function that settles it. */
function gate(): { readonly until: Promise<void>; readonly open: () => void } {
  let open = (): void => undefined;
  const until = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { until, open };
}

describe('LiveKit provider: a CreateRoom that got no answer', () => {
  it('keeps its slot until the room it may have created is known gone', async () => {
    const standIn = await startStandIn();
    const backend = await liveKitBackend(standIn, { requestTimeoutMs: REQUEST_TIMEOUT_MS });
    const admission = new Admission(backend, {
      maxConcurrentSessions: 1,
      queue: { maxSize: 1, timeoutMs: 20_000 },
      health: false,
    });
    // The server stops answering: CreateRoom is read and served late, DeleteRoom fails.
    const createHeld = gate();
    standIn.inject({ methods: ['CreateRoom'], heldUntil: createHeld.until, times: 1 });
    const deleteFails = standIn.inject({ methods: ['DeleteRoom'], error: 'unavailable' });
    const cleanupFailures: string[] = [];
    backend.on('cleanup_failed', ({ roomName }) => cleanupFailures.push(roomName));
    let mostRooms = 0;
    const sampler = setInterval(() => {
      mostRooms = Math.max(mostRooms, standIn.roomNames().length);
    }, 5);
    onCleanup(() => clearInterval(sampler));

    let firstSettled = false;
    const first = admission.createSession({ userId: 'first' }).finally(() => {
      firstSettled = true;
    });
    const firstOutcome = first.catch((error: unknown) => error);
    await eventually(() => standIn.calls('RoomService/CreateRoom') === 1);
    const second = admission.createSession({ userId: 'second' });
    // Well past the CreateRoom timeout, with DeleteRoom failing all along.
    await sleep(REQUEST_TIMEOUT_MS * 4);
    expect(firstSettled).toBe(false);
    expect(standIn.calls('RoomService/CreateRoom')).toBe(1);

    // The server answers again: it serves the CreateRoom it had read, then DeleteRoom.
    createHeld.open();
    await eventually(() => standIn.roomNames().length === 1);
    deleteFails();

    await expect(firstOutcome).resolves.toMatchObject({ code: 'timeout' });
    await expect(second).resolves.toMatchObject({ state: 'active' });
    expect(mostRooms).toBe(1);
    // Reported once for the create, not once per attempt.
    expect(cleanupFailures).toHaveLength(1);
    expect(admission.active).toBe(1);
    await (await second).close();
    expect(admission.active).toBe(0);
    expect(standIn.roomNames()).toEqual([]);
  });

  it("the caller's abort takes effect only once the room is known gone", async () => {
    const standIn = await startStandIn();
    const backend = await liveKitBackend(standIn, { requestTimeoutMs: REQUEST_TIMEOUT_MS });
    const createHeld = gate();
    standIn.inject({ methods: ['CreateRoom'], heldUntil: createHeld.until, times: 1 });
    const deleteFails = standIn.inject({ methods: ['DeleteRoom'], error: 'unavailable' });
    const controller = new AbortController();
    let settled = false;
    const create = backend
      .createSession({ userId: 'u' }, { signal: controller.signal })
      .catch((error: unknown) => error)
      .finally(() => {
        settled = true;
      });
    await sleep(REQUEST_TIMEOUT_MS * 2);
    controller.abort();
    await sleep(REQUEST_TIMEOUT_MS * 2);
    expect(settled).toBe(false);

    createHeld.open();
    await eventually(() => standIn.roomNames().length === 1);
    deleteFails();
    await expect(create).resolves.toMatchObject({ code: 'aborted' });
    expect(standIn.roomNames()).toEqual([]);
  });

  it('backend.stop() gives up the wait promptly', async () => {
    const standIn = await startStandIn();
    const backend = await liveKitBackend(standIn, { requestTimeoutMs: REQUEST_TIMEOUT_MS });
    const createHeld = gate();
    onCleanup(createHeld.open);
    standIn.inject({ methods: ['CreateRoom'], heldUntil: createHeld.until, times: 1 });
    standIn.inject({ methods: ['DeleteRoom'], error: 'unavailable' });
    const create = backend.createSession({ userId: 'u' }).catch((error: unknown) => error);
    await sleep(REQUEST_TIMEOUT_MS * 2);

    const stopAsked = Date.now();
    await backend.stop();
    expect(Date.now() - stopAsked).toBeLessThan(REQUEST_TIMEOUT_MS * 2);
    await expect(create).resolves.toMatchObject({ code: 'stopped' });
  });
});
