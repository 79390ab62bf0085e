/** A queued request. Linked into its tenant's lane; owned by FairQueue while queued. */
export interface QueueEntry {
  readonly tenantId: string;
  lane: Lane | undefined;
  prev: QueueEntry | undefined;
  next: QueueEntry | undefined;
}

/** One tenant's FIFO at one priority level, linked into that level's ring of tenants. */
export interface Lane {
  readonly tenantId: string;
  readonly level: Level;
  head: QueueEntry | undefined;
  tail: QueueEntry | undefined;
  ringPrev: Lane;
  ringNext: Lane;
}

export interface Level {
  readonly priority: number;
  readonly lanes: Map<string, Lane>;
  /** Where the next round-robin scan starts. */
  cursor: Lane | undefined;
}

/**
 * Waiters grouped by priority (higher first), then by tenant, FIFO within a tenant. Across
 * tenants the next slot goes to the tenant holding the fewest slots (max-min fair share: a
 * newcomer is not stuck behind a tenant that floods the queue), ties broken round-robin so
 * equals take turns and nobody starves. Tenants the caller reports as blocked (at their cap)
 * are skipped, so a tenant at its cap never holds up anyone else.
 */
export class FairQueue<E extends QueueEntry> {
  /** Levels in descending priority; almost always just one. */
  readonly #levels: Level[] = [];
  readonly #perTenant = new Map<string, number>();
  #size = 0;

  get size(): number {
    return this.#size;
  }

  sizeOf(tenantId: string): number {
    return this.#perTenant.get(tenantId) ?? 0;
  }

  /** Tenants with at least one waiter. */
  tenants(): IterableIterator<string> {
    return this.#perTenant.keys();
  }

  push(entry: E, priority: number): void {
    const lane = this.#laneFor(entry.tenantId, priority);
    entry.lane = lane;
    entry.prev = lane.tail;
    entry.next = undefined;
    if (lane.tail === undefined) lane.head = entry;
    else lane.tail.next = entry;
    lane.tail = entry;
    this.#size++;
    this.#perTenant.set(entry.tenantId, (this.#perTenant.get(entry.tenantId) ?? 0) + 1);
  }

  /** Unlinks `entry`; a no-op when it is not queued. */
  remove(entry: E): void {
    const lane = entry.lane;
    if (lane === undefined) return;
    if (entry.prev === undefined) lane.head = entry.next;
    else entry.prev.next = entry.next;
    if (entry.next === undefined) lane.tail = entry.prev;
    else entry.next.prev = entry.prev;
    entry.lane = undefined;
    entry.prev = undefined;
    entry.next = undefined;
    this.#size--;
    const left = (this.#perTenant.get(entry.tenantId) ?? 1) - 1;
    if (left === 0) this.#perTenant.delete(entry.tenantId);
    else this.#perTenant.set(entry.tenantId, left);
    if (lane.head === undefined) this.#dropLane(lane);
  }

  /**
   * The next waiter to serve: highest priority first; within a priority the unblocked tenant
   * with the fewest `held` slots, the first in rotation order on a tie. Does not dequeue; call
   * `served(entry)` once it is granted so the rotation moves past its tenant.
   */
  next(blocked: (tenantId: string) => boolean, held: (tenantId: string) => number): E | undefined {
    for (const level of this.#levels) {
      const start = level.cursor;
      if (start === undefined) continue;
      let best: Lane | undefined;
      let bestHeld = Number.POSITIVE_INFINITY;
      let lane = start;
      do {
        if (!blocked(lane.tenantId)) {
          const count = held(lane.tenantId);
          if (count < bestHeld) {
            best = lane;
            bestHeld = count;
            if (count === 0) break; // nobody can hold fewer
          }
        }
        lane = lane.ringNext;
      } while (lane !== start);
      if (best !== undefined) return best.head as E;
    }
    return undefined;
  }

  /** Dequeues a served entry and moves its level's rotation to the following tenant. */
  served(entry: E): void {
    const lane = entry.lane;
    if (lane === undefined) return;
    lane.level.cursor = lane.ringNext;
    this.remove(entry);
  }

  /** Removes and returns every entry (used by drain). */
  removeAll(): E[] {
    const all: E[] = [];
    for (const level of this.#levels) {
      for (const lane of level.lanes.values()) {
        for (let entry = lane.head; entry !== undefined; entry = entry.next) all.push(entry as E);
      }
    }
    for (const entry of all) this.remove(entry);
    return all;
  }

  #laneFor(tenantId: string, priority: number): Lane {
    let level = this.#levels.find((l) => l.priority === priority);
    if (level === undefined) {
      level = { priority, lanes: new Map(), cursor: undefined };
      this.#levels.push(level);
      this.#levels.sort((a, b) => b.priority - a.priority);
    }
    let lane = level.lanes.get(tenantId);
    if (lane !== undefined) return lane;
    const created = { tenantId, level, head: undefined, tail: undefined } as unknown as Lane;
    const cursor = level.cursor;
    if (cursor === undefined) {
      created.ringPrev = created;
      created.ringNext = created;
      level.cursor = created;
    } else {
      // Join the ring just before the cursor: a new tenant is served after those waiting.
      created.ringNext = cursor;
      created.ringPrev = cursor.ringPrev;
      cursor.ringPrev.ringNext = created;
      cursor.ringPrev = created;
    }
    level.lanes.set(tenantId, created);
    lane = created;
    return lane;
  }

  #dropLane(lane: Lane): void {
    const level = lane.level;
    level.lanes.delete(lane.tenantId);
    if (lane.ringNext === lane) {
      level.cursor = undefined;
      this.#levels.splice(this.#levels.indexOf(level), 1);
      return;
    }
    lane.ringPrev.ringNext = lane.ringNext;
    lane.ringNext.ringPrev = lane.ringPrev;
    if (level.cursor === lane) level.cursor = lane.ringNext;
  }
}
