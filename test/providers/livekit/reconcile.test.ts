import { describe, expect, it } from 'vitest';
import { Admission } from '../../../src/admission/admission.js';
import { eventually, liveKitBackend, startStandIn } from './fixture.js';

describe('LiveKit provider: reconciliation', () => {
  it('ends sessions whose room is gone when the webhook was lost, and frees their slots', async () => {
    const standIn = await startStandIn();
    const backend = await liveKitBackend(standIn);
    const admission = new Admission(backend, { maxConcurrentSessions: 3, health: false });
    const [lost, kept] = await Promise.all([
      admission.createSession({ userId: 'a' }),
      admission.createSession({ userId: 'b' }),
    ]);
    const ended: string[] = [];
    backend.on('room_ended', ({ sessionId, via }) => ended.push(`${sessionId}:${via}`));
    standIn.finishRoom(lost!.connection.roomName, { notify: false });

    const report = await backend.reconcile();
    expect(report).toEqual({ ended: [lost!.id], untracked: [], deleted: [], errors: [] });
    expect(ended).toEqual([`${lost!.id}:reconcile`]);
    expect((await lost!.closed).reason).toBe('remote_ended');
    expect(kept!.state).toBe('active');
    expect(admission.active).toBe(1);
  });

  it('reports rooms with our prefix that nothing tracks, and leaves other rooms alone', async () => {
    const standIn = await startStandIn();
    const backend = await liveKitBackend(standIn, { roomPrefix: 'va-' });
    const mine = await backend.createSession({ userId: 'a' });
    standIn.addRoom('va-left-by-a-crashed-instance');
    standIn.addRoom('another-app-room');
    const reported: string[][] = [];
    backend.on('untracked_rooms', ({ rooms, deleted }) => {
      reported.push([...rooms]);
      expect(deleted).toEqual([]);
    });
    const report = await backend.reconcile();
    expect(report.untracked).toEqual(['va-left-by-a-crashed-instance']);
    expect(report.deleted).toEqual([]);
    expect(reported).toEqual([['va-left-by-a-crashed-instance']]);
    expect(standIn.roomNames().sort()).toEqual(
      ['another-app-room', mine.connection.roomName, 'va-left-by-a-crashed-instance'].sort(),
    );
  });

  it('deletes untracked rooms with our prefix when configured to', async () => {
    const standIn = await startStandIn();
    const backend = await liveKitBackend(standIn, {
      reconcile: { intervalMs: 60_000, deleteUntracked: true },
    });
    const mine = await backend.createSession({ userId: 'a' });
    standIn.addRoom('va-orphan-1');
    standIn.addRoom('va-orphan-2');
    standIn.addRoom('not-ours');
    const report = await backend.reconcile();
    expect([...report.deleted].sort()).toEqual(['va-orphan-1', 'va-orphan-2']);
    expect(standIn.roomNames().sort()).toEqual([mine.connection.roomName, 'not-ours'].sort());
  });

  it('retries a deletion that failed, until the room is gone', async () => {
    const standIn = await startStandIn();
    const backend = await liveKitBackend(standIn, { reconcile: { intervalMs: 3_600_000 } });
    const session = await backend.createSession({ userId: 'a' });
    const failures: string[] = [];
    backend.on('cleanup_failed', ({ roomName }) => failures.push(roomName));
    standIn.inject({ methods: ['DeleteRoom'], error: 'unavailable', times: 1 });
    const end = await session.close();
    expect(end.reason).toBe('closed');
    expect(end.error).toMatchObject({ code: 'unavailable', op: 'close_session' });
    expect(failures).toEqual([session.connection.roomName]);
    expect(standIn.roomNames()).toEqual([session.connection.roomName]);

    const report = await backend.reconcile();
    expect(report.deleted).toEqual([session.connection.roomName]);
    expect(report.untracked).toEqual([]);
    expect(standIn.roomNames()).toEqual([]);
  });

  it('without reconciliation, a room whose deletion failed is reported, then forgotten', async () => {
    const standIn = await startStandIn();
    const backend = await liveKitBackend(standIn, { reconcile: false });
    const failures: string[] = [];
    backend.on('cleanup_failed', ({ roomName }) => failures.push(roomName));
    for (const user of ['a', 'b']) {
      const session = await backend.createSession({ userId: user });
      standIn.inject({ methods: ['DeleteRoom'], error: 'unavailable', times: 1 });
      expect((await session.close()).error).toMatchObject({ code: 'unavailable' });
    }
    expect(failures).toHaveLength(2);
    // Nothing would ever retry them: the provider keeps no record of them (a long-running
    // process would keep one per failed deletion), and a pass run by hand sees them as rooms
    // it does not own.
    const report = await backend.reconcile();
    expect(report.deleted).toEqual([]);
    expect([...report.untracked].sort()).toEqual([...failures].sort());
    expect(standIn.roomNames().sort()).toEqual([...failures].sort());
  });

  it('a room found gone while its session waits for its agent fails the create at the next poll', async () => {
    const standIn = await startStandIn();
    const backend = await liveKitBackend(standIn, {
      awaitAgent: { timeoutMs: 3_000, pollIntervalMs: 50 },
    });
    const admission = new Admission(backend, { maxConcurrentSessions: 1, health: false });
    const creating = admission.createSession({ userId: 'a' });
    creating.catch(() => undefined);
    await eventually(() => standIn.calls('RoomService/ListParticipants') > 0);
    const roomName = standIn.roomNames()[0]!;
    // The server ended the room, its webhook lost, and a join re-created it under another sid.
    standIn.finishRoom(roomName, { notify: false });
    standIn.addRoom(roomName);

    // The create, not reconciliation, ends what it started.
    expect(await backend.reconcile()).toEqual({
      ended: [],
      untracked: [],
      deleted: [],
      errors: [],
    });
    await expect(creating).rejects.toMatchObject({
      code: 'setup_failed',
      message: `room ${roomName} finished on the server while the session was being created`,
    });
    expect(admission.stats()).toMatchObject({ active: 0, settingUp: 0 });
    expect(standIn.roomNames()).toEqual([]);
  });

  it('does not take a room whose CreateRoom has not answered yet for gone', async () => {
    const standIn = await startStandIn();
    const backend = await liveKitBackend(standIn);
    let answer = (): void => undefined;
    const heldUntil = new Promise<void>((resolve) => (answer = resolve));
    standIn.inject({ methods: ['CreateRoom'], heldUntil, times: 1 });
    const creating = backend.createSession({ userId: 'a' });
    await eventually(() => standIn.calls('RoomService/CreateRoom') === 1);

    expect(await backend.reconcile()).toEqual({
      ended: [],
      untracked: [],
      deleted: [],
      errors: [],
    });
    answer();
    expect((await creating).state).toBe('active');
  });

  it('runs on its own every intervalMs on an unref-ed timer, stopped by stop()', async () => {
    const standIn = await startStandIn();
    const before = process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;
    const backend = await liveKitBackend(standIn, { reconcile: { intervalMs: 100 } });
    // An unref-ed timer does not keep the event loop alive, so it is not listed as active.
    expect(process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length).toBe(before);
    const session = await backend.createSession({ userId: 'a' });
    standIn.finishRoom(session.connection.roomName, { notify: false });
    expect((await session.closed).reason).toBe('remote_ended');
    await backend.stop();
    const listsAfterStop = standIn.calls('RoomService/ListRooms');
    await new Promise((resolve) => setTimeout(resolve, 250));
    expect(standIn.calls('RoomService/ListRooms')).toBe(listsAfterStop);
  });

  it('reports a failed run through reconcile_failed and keeps running', async () => {
    const standIn = await startStandIn();
    const backend = await liveKitBackend(standIn, { reconcile: { intervalMs: 100 } });
    const failed = new Promise<string>((resolve) =>
      backend.on('reconcile_failed', ({ error }) => resolve(error.code)),
    );
    standIn.inject({ methods: ['ListRooms'], error: 'unavailable', times: 1 });
    expect(await failed).toBe('unavailable');
    // The loop goes on after the failure: it still notices a room that went away.
    const session = await backend.createSession({ userId: 'a' });
    standIn.finishRoom(session.connection.roomName, { notify: false });
    expect((await session.closed).reason).toBe('remote_ended');
  });
});
