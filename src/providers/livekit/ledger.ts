/**
 * The rooms this backend owns, by name, from just before `CreateRoom` until the room is known
 * gone. It is the provider's own record, apart from the session map, so that reconciliation
 * never mistakes a room being created, or one whose session is settling, for an untracked one.
 */
export class RoomLedger {
  /** room name -> session id */
  readonly #owned = new Map<string, string>();
  /** Rooms whose deletion failed; reconciliation retries them. */
  readonly #orphans = new Set<string>();

  claim(room: string, sessionId: string): void {
    this.#owned.set(room, sessionId);
  }

  /** The room is gone (deleted, or finished on the server). */
  release(room: string): void {
    this.#owned.delete(room);
    this.#orphans.delete(room);
  }

  /** Deleting the room failed: keep owning it so reconciliation retries the deletion. */
  orphan(room: string): void {
    this.#orphans.add(room);
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
    return [...this.#orphans];
  }

  get size(): number {
    return this.#owned.size;
  }
}
