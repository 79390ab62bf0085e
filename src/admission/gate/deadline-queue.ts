/** An entry with a deadline. `done` entries are skipped and dropped lazily. */
export interface Deadlined {
  readonly deadline: number;
  readonly done: boolean;
}

/** Entries sharing one wait duration: enqueued in deadline order, so a FIFO suffices. */
interface Group<T> {
  items: T[];
  head: number;
}

/**
 * Expires entries at their deadline with one timer for all of them. The timer keeps the process
 * alive while entries wait (a caller awaits each one's outcome) and is cleared once none does,
 * so nothing is kept alive for waiters already gone. Entries are
 * grouped by wait duration: within a group deadlines only grow, so each group is a FIFO and
 * adding is O(1); an entry that leaves early is marked done and dropped once it reaches the
 * head of its group (waiters mostly leave in FIFO order, so that is almost at once).
 */
export class DeadlineQueue<T extends Deadlined> {
  readonly #groups = new Map<number, Group<T>>();
  /** Called with each expired entry and the clock reading the expiry pass took for them all. */
  readonly #onExpired: (item: T, now: number) => void;
  #timer: NodeJS.Timeout | undefined;
  #armedFor = Number.POSITIVE_INFINITY;

  constructor(onExpired: (item: T, now: number) => void) {
    this.#onExpired = onExpired;
  }

  /** Adds `item`, which waits `waitMs` (its deadline must be now + waitMs). */
  add(item: T, waitMs: number): void {
    let group = this.#groups.get(waitMs);
    if (group === undefined) {
      group = { items: [], head: 0 };
      this.#groups.set(waitMs, group);
    }
    group.items.push(item);
    if (item.deadline < this.#armedFor) this.#arm(item.deadline);
  }

  /** Drops done entries at the head of `waitMs`'s group; call after an entry leaves early. */
  trim(waitMs: number): void {
    const group = this.#groups.get(waitMs);
    if (group === undefined) return;
    this.#dropDoneHeads(waitMs, group);
    if (this.#groups.size === 0) this.#disarm();
  }

  /** Forgets every entry and stops the timer (used when everything is rejected anyway). */
  clear(): void {
    this.#groups.clear();
    this.#disarm();
  }

  #dropDoneHeads(waitMs: number, group: Group<T>): void {
    const { items } = group;
    while (group.head < items.length && items[group.head]!.done) group.head++;
    if (group.head === items.length) {
      this.#groups.delete(waitMs);
    } else if (group.head > 1_024 && group.head * 2 > items.length) {
      // Compact once the consumed prefix dominates, keeping memory proportional to waiters.
      group.items = items.slice(group.head);
      group.head = 0;
    }
  }

  #expire(): void {
    this.#timer = undefined;
    this.#armedFor = Number.POSITIVE_INFINITY;
    const now = performance.now();
    const expired: T[] = [];
    for (const [waitMs, group] of this.#groups) {
      const { items } = group;
      while (group.head < items.length && items[group.head]!.deadline <= now) {
        const item = items[group.head++]!;
        if (!item.done) expired.push(item);
      }
      this.#dropDoneHeads(waitMs, group);
    }
    // Expire after the scan: expiring may enqueue or grant, which touches the groups.
    for (const item of expired) this.#onExpired(item, now);
    const next = this.#earliest();
    if (next < this.#armedFor) this.#arm(next);
  }

  #earliest(): number {
    let earliest = Number.POSITIVE_INFINITY;
    for (const group of this.#groups.values()) {
      const head = group.items[group.head];
      if (head !== undefined && head.deadline < earliest) earliest = head.deadline;
    }
    return earliest;
  }

  #arm(deadline: number): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#armedFor = deadline;
    this.#timer = setTimeout(
      () => this.#expire(),
      Math.max(0, Math.ceil(deadline - performance.now())),
    );
  }

  #disarm(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#armedFor = Number.POSITIVE_INFINITY;
  }
}
