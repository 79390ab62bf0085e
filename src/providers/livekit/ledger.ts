/**
 * The rooms this backend owns, by name, from just before `CreateRoom` until the room is known
 * gone. It is the provider's own record, apart from the session map, so that reconciliation
 * never mistakes a room being created, or one whose session is settling, for an untracked one.
 *
 * A room is told apart from a later one of the same name by its sid: a caller's join
 * re-creates a room that is gone (the server's `room.auto_create`), under a new sid.
 */
export class RoomLedger {
  /** room name -> its session, and the sid `CreateRoom` answered with (once it has) */
  readonly #owned = new Map<string, OwnedRoom>();
  /**
   * Rooms whose deletion failed, or whose creation may still land (a CreateRoom that timed
   * out): reconciliation deletes them once listed, and forgets them when they are not listed
   * after the time given (epoch ms).
   */
  readonly #orphans = new Map<string, number>();

  /**
   * Rooms whose session ended, with the sid of the room that ended, until the epoch ms given
   * (oldest first, all with the same window). The caller's token still works a while: joining
   * re-creates the room with no session and no slot; such a room is deleted when seen.
   */
  readonly #ended = new Map<string, { readonly until: number; readonly sid: string | undefined }>();

  claim(room: string, sessionId: string): void {
    this.#owned.set(room, { sessionId, sid: undefined, creating: true, finishedSids: [] });
  }

  /** `CreateRoom` answered: the session's room is the one with this sid. */
  created(room: string, sid: string): void {
    const owned = this.#owned.get(room);
    if (owned !== undefined) owned.sid = sid;
  }

  /**
   * The room finished on the server: while its session is being created, this is remembered
   * for the create to find (`finishedDuringCreate`). `sid` is the finished room's, undefined
   * when not told. Returns whether it was remembered: false when no session is being created
   * or the finished room is known to be another than the session's (another sid).
   */
  finishedWhileCreating(room: string, sid: string | undefined): boolean {
    const owned = this.#owned.get(room);
    if (owned?.creating !== true) return false;
    if (sid !== undefined && owned.sid !== undefined && sid !== owned.sid) return false;
    // Before CreateRoom answers, which room it is can only be told once it has.
    owned.finishedSids.push(sid);
    return true;
  }

  /**
   * Whether the session's own room finished since `claim`. A finish told under another sid
   * than the one `CreateRoom` answered was another room of that name, and does not count.
   */
  finishedDuringCreate(room: string): boolean {
    const owned = this.#owned.get(room);
    return owned?.finishedSids.some((sid) => sid === undefined || sid === owned.sid) ?? false;
  }

  /** The session is created: a finish from now on is its room ending, not its create's. */
  createCompleted(room: string): void {
    const owned = this.#owned.get(room);
    if (owned === undefined) return;
    owned.creating = false;
    owned.finishedSids.length = 0;
  }

  /**
   * Whether a room listed or reported under this sid is another room than the session's own:
   * the session's room ended unseen (the server restarted, say) and a join re-created it.
   */
  replaced(room: string, sid: string): boolean {
    const owned = this.#owned.get(room)?.sid;
    return owned !== undefined && sid !== '' && sid !== owned;
  }

  /** The room is gone (deleted, or finished on the server). */
  release(room: string): void {
    this.#owned.delete(room);
    this.#orphans.delete(room);
  }

  /**
   * The room is gone and its session over: released, and remembered until `until` so that a
   * room of that name seen meanwhile (under another sid) is known as a late re-creation.
   */
  end(room: string, until: number, now: number): void {
    this.#forgetEnded(now);
    const sid = this.#owned.get(room)?.sid;
    this.release(room);
    this.#ended.delete(room);
    this.#ended.set(room, { until, sid });
  }

  /**
   * Whether the room's session ended and its caller's token may still re-create it. `sid`, when
   * known, tells the room that ended (reported late: a webhook delivered out of order) from a
   * re-creation.
   */
  recreatedLate(room: string, now: number, sid?: string): boolean {
    this.#forgetEnded(now);
    const ended = this.#ended.get(room);
    if (ended === undefined || this.#owned.has(room)) return false;
    return sid === undefined || sid === '' || ended.sid === undefined || sid !== ended.sid;
  }

  #forgetEnded(now: number): void {
    for (const [room, { until }] of this.#ended) {
      if (until > now) return;
      this.#ended.delete(room);
    }
  }

  /** Keep owning the room so reconciliation deletes it if it exists (now or until `watchUntil`). */
  orphan(room: string, watchUntil = 0): void {
    this.#orphans.set(room, watchUntil);
  }

  sessionFor(room: string): string | undefined {
    return this.#owned.get(room)?.sessionId;
  }

  owns(room: string): boolean {
    return this.#owned.has(room);
  }

  isOrphan(room: string): boolean {
    return this.#orphans.has(room);
  }

  /** Owned rooms, their sessions and the sids known so far, as of now. */
  snapshot(): ReadonlyMap<string, Readonly<Pick<OwnedRoom, 'sessionId' | 'sid'>>> {
    return new Map(
      [...this.#owned].map(([room, { sessionId, sid }]) => [room, { sessionId, sid }]),
    );
  }

  orphans(): string[] {
    return [...this.#orphans.keys()];
  }

  /** An orphan that is not listed may be forgotten once its watch time is over. */
  mayForget(room: string, now: number): boolean {
    return (this.#orphans.get(room) ?? 0) <= now;
  }
}

interface OwnedRoom {
  readonly sessionId: string;
  sid: string | undefined;
  /** From `claim` until the create is complete (`createCompleted`). */
  creating: boolean;
  /** Sids of rooms of this name reported finished while creating (undefined: not told). */
  readonly finishedSids: (string | undefined)[];
}
