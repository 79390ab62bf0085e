/**
 * The rooms this backend owns, by name, from just before `CreateRoom` until the room is known
 * gone. It is the provider's own record, apart from the session map, so that reconciliation
 * never mistakes a room being created, or one whose session is settling, for an untracked one.
 */
export class RoomLedger {
  /** room name -> session id */
  readonly #owned = new Map<string, string>();
  /**
   * Rooms whose deletion failed, or whose creation may still land (a CreateRoom that timed
   * out): reconciliation deletes them once listed, and forgets them when they are not listed
   * after the time given (epoch ms).
   */
  readonly #orphans = new Map<string, number>();

  /**
   * Rooms whose session ended, until the epoch ms given (oldest first, all with the same
   * window). The caller's token still works a while: joining re-creates the room (the server's
   * `room.auto_create`) with no session and no slot; such a room is deleted when seen.
   */
  readonly #ended = new Map<string, number>();

  claim(room: string, sessionId: string): void {
    this.#owned.set(room, sessionId);
  }

  /** The room is gone (deleted, or finished on the server). */
  release(room: string): void {
    this.#owned.delete(room);
    this.#orphans.delete(room);
  }

  /** The room's session is over: a room of that name seen before `until` is a late re-creation. */
  ended(room: string, until: number, now: number): void {
    this.#forgetEnded(now);
    this.#ended.delete(room);
    this.#ended.set(room, until);
  }

  /** Whether the room's session ended and its caller's token may still re-create it. */
  recreatedLate(room: string, now: number): boolean {
    this.#forgetEnded(now);
    return this.#ended.has(room) && !this.#owned.has(room);
  }

  #forgetEnded(now: number): void {
    for (const [room, until] of this.#ended) {
      if (until > now) return;
      this.#ended.delete(room);
    }
  }

  /** Keep owning the room so reconciliation deletes it if it exists (now or until `watchUntil`). */
  orphan(room: string, watchUntil = 0): void {
    this.#orphans.set(room, watchUntil);
  }

  sessionFor(room: string): string | undefined {
    return this.#owned.get(room);
  }

  owns(room: string): boolean {
    return this.#owned.has(room);
  }

  isOrphan(room: string): boolean {
    return this.#orphans.has(room);
  }

  /** Owned rooms and their sessions, as of now. */
  snapshot(): ReadonlyMap<string, string> {
    return new Map(this.#owned);
  }

  orphans(): string[] {
    return [...this.#orphans.keys()];
  }

  /** An orphan that is not listed may be forgotten once its watch time is over. */
  mayForget(room: string, now: number): boolean {
    return (this.#orphans.get(room) ?? 0) <= now;
  }
}
