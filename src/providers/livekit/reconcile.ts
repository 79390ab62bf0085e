import type { BackendError } from '../../iface/errors.js';
import type { RoomLedger } from './ledger.js';
import type { ListedRoom } from './server-api.js';

/** What one reconciliation run found and did. */
export interface ReconcileReport {
  /** Sessions ended because their room was gone from the server. */
  readonly ended: readonly string[];
  /** Rooms with our prefix that this backend does not own (e.g. left by a crashed instance). */
  readonly untracked: readonly string[];
  /** Rooms deleted in this run: untracked ones (when configured) and earlier failed deletions. */
  readonly deleted: readonly string[];
  /** Deletions that failed; retried next run. */
  readonly errors: readonly BackendError[];
}

export interface ReconcileContext {
  readonly prefix: string;
  readonly deleteUntracked: boolean;
  readonly ledger: RoomLedger;
  listRooms(): Promise<ListedRoom[]>;
  /** Deletes a room; a room already gone is not an error. */
  deleteRoom(name: string): Promise<void>;
  /**
   * The room (of this sid) is gone: end its session. Returns false while the session is not
   * registered yet (its create is still under way, and will fail) or no longer active.
   */
  roomGone(room: string, sid: string): boolean;
  /** Whether the room's session already ended here: the room is a late caller's re-creation. */
  recreatedLate(room: string, sid: string): boolean;
}

/**
 * One pass, for webhooks that were lost: lists the server's rooms, ends sessions whose room
 * is gone, retries deletions that failed, and reports (or deletes) rooms with our prefix that
 * nothing here owns. Ownership is snapshotted before listing, so a room created while the
 * list is under way is never taken for gone. A session's room listed under another sid than
 * its own is gone too (the server restarted and a reconnecting caller re-created it): the
 * session ends and that room is deleted.
 */
export async function reconcileOnce(context: ReconcileContext): Promise<ReconcileReport> {
  const { ledger, prefix } = context;
  const ownedBefore = ledger.snapshot();
  const listed = new Map((await context.listRooms()).map((room) => [room.name, room.sid]));

  const ended: string[] = [];
  const replaced: string[] = [];
  for (const [room, { sessionId, sid: ownSid }] of ownedBefore) {
    if (ledger.sessionFor(room) !== sessionId) continue;
    const sid = listed.get(room);
    if (ledger.isOrphan(room)) {
      if (sid === undefined && ledger.mayForget(room, Date.now())) ledger.release(room);
    } else if (ownSid !== undefined && (sid === undefined || ledger.replaced(room, sid))) {
      // A room whose CreateRoom had not answered before the list was asked for may be missing
      // from it only because it did not exist yet: ownSid tells which rooms are known created.
      if (!context.roomGone(room, ownSid)) continue;
      ended.push(sessionId);
      if (sid !== undefined) replaced.push(room);
    }
  }

  const deleted: string[] = [];
  const errors: BackendError[] = [];
  const remove = async (room: string): Promise<void> => {
    try {
      await context.deleteRoom(room);
      deleted.push(room);
    } catch (error) {
      errors.push(error as BackendError);
    }
  };

  const orphans = ledger.orphans().filter((room) => listed.has(room));
  await Promise.all(
    orphans.map(async (room) => {
      await remove(room);
      if (deleted.includes(room)) ledger.release(room);
    }),
  );

  const untracked = [...listed.keys()].filter(
    (room) => room.startsWith(prefix) && !ownedBefore.has(room) && !ledger.owns(room),
  );
  // A room re-created by a late caller is ours to delete whatever deleteUntracked says.
  const toDelete = context.deleteUntracked
    ? untracked
    : untracked.filter((room) => context.recreatedLate(room, listed.get(room)!));
  await Promise.all([...toDelete, ...replaced].map(remove));
  return { ended, untracked, deleted, errors };
}
