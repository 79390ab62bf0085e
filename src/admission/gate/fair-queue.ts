import type { TenantHold } from './slot.js';

/** A queued request. Linked into its tenant's lane; owned by FairQueue while queued. */
export interface QueueEntry {
  readonly tenantId: string;
  lane: Lane | undefined;
  prev: QueueEntry | undefined;
  next: QueueEntry | undefined;
}

/**
 * A tenant holding or waiting for slots: the slots it holds (`active`, shared with its slots
 * so a release needs no lookup), its waiters, and its lanes (one per priority).
 */
interface TenantLine extends TenantHold {
  queued: number;
  blocked: boolean;
  /** Its lanes, linked through `Lane.sibling` (no array: one object less to touch per grant). */
  firstLane: Lane | undefined;
}

/** One tenant's FIFO at one priority level, linked into the bucket of its held count. */
export interface Lane {
  readonly line: TenantLine;
  readonly level: Level;
  /** The next lane of the same tenant (another priority). */
  sibling: Lane | undefined;
  head: QueueEntry | undefined;
  tail: QueueEntry | undefined;
  /** The bucket it is linked into; undefined while its tenant is blocked. */
  bucket: Bucket | undefined;
  bucketPrev: Lane | undefined;
  bucketNext: Lane | undefined;
}

/** The lanes of one level whose tenants hold `held` slots, in turn order. */
interface Bucket {
  readonly held: number;
  first: Lane | undefined;
  last: Lane | undefined;
  /** Whether it is in its level's heap (an emptied bucket leaves it once on top). */
  inHeap: boolean;
}

interface Level {
  readonly priority: number;
  /** Lanes at this level (no map of them: a tenant's lanes hang off its line). */
  lanes: number;
  /** Buckets by held count: those in the heap, and emptied ones kept for reuse. */
  readonly buckets: Map<number, Bucket>;
  /**
   * Binary min-heap of non-empty buckets by held count. An emptied bucket stays until it
   * reaches the top, where it leaves the heap.
   */
  readonly heap: Bucket[];
}

/**
 * Emptied buckets a level keeps for reuse at most. Held counts move by one per grant and
 * release, so the counts just left are met again at once: reusing their buckets spares an
 * allocation, a map insert and a delete per grant.
 */
const BUCKETS_KEPT = 64;

/** Idle tenant lines kept for reuse at least; see `FairQueue.#idle`. */
const IDLE_KEPT = 1_024;

/**
 * Waiters grouped by priority (higher first), then by tenant, FIFO within a tenant. Across
 * tenants the next slot goes to the tenant holding the fewest slots (max-min fair share: a
 * newcomer is not stuck behind a tenant that floods the queue), ties taken in turn so equals
 * alternate and nobody starves. Tenants reported blocked (at their cap) are set aside, so a
 * tenant at its cap never holds up anyone else.
 *
 * Lanes are bucketed by their tenant's held count and the buckets kept in a heap, so picking
 * the next waiter costs O(log of distinct held counts), however many tenants wait or are
 * blocked. The queue keeps the held counts too (`holdOf`, `granted`, `released`), so one
 * record per tenant serves both.
 */
export class FairQueue<E extends QueueEntry> {
  /** Levels in descending priority; almost always just one. */
  readonly #levels: Level[] = [];
  /** Tenants holding or waiting for slots, and idle ones kept for reuse (see `#idle`). */
  readonly #lines = new Map<string, TenantLine>();
  /**
   * Lines neither holding nor waiting, kept so a tenant coming back reuses its own. Swept once
   * they outnumber both IDLE_KEPT and the busy ones: a sweep then follows at least that many
   * releases, so its cost per grant stays constant however many tenants there are.
   */
  #idle = 0;
  /** Tenants at their cap, waiters or not; cleared when capacity may have freed. */
  readonly #blocked = new Set<string>();
  #size = 0;

  get size(): number {
    return this.#size;
  }

  sizeOf(tenantId: string): number {
    return this.#lines.get(tenantId)?.queued ?? 0;
  }

  heldBy(tenantId: string): number {
    return this.#lines.get(tenantId)?.active ?? 0;
  }

  /** Tenants holding or waiting for a slot. */
  *tenants(): IterableIterator<string> {
    for (const line of this.#lines.values()) {
      if (line.active > 0 || line.queued > 0) yield line.tenantId;
    }
  }

  /** The record counting what `tenantId` holds; pass it to `granted` / `released`. */
  holdOf(tenantId: string): TenantHold {
    return this.#lineOf(tenantId);
  }

  /** `hold`'s tenant was granted a slot: it moves behind the tenants holding one fewer. */
  granted(hold: TenantHold): void {
    const line = hold as TenantLine;
    line.active++;
    this.#relink(line);
  }

  released(hold: TenantHold): void {
    const line = hold as TenantLine;
    line.active--;
    if (line.active === 0 && line.queued === 0) this.#becameIdle();
    else this.#relink(line);
  }

  /**
   * Queues `entry` behind its tenant's waiters, unless `maxPerTenant` of them wait already:
   * then returns false and queues nothing. One lookup of the tenant does both.
   */
  push(entry: E, priority: number, maxPerTenant = Number.POSITIVE_INFINITY): boolean {
    const found = this.#lines.get(entry.tenantId);
    if ((found?.queued ?? 0) >= maxPerTenant) return false;
    const line = found === undefined ? this.#newLine(entry.tenantId) : this.#reuse(found);
    const lane = this.#laneFor(line, priority);
    entry.lane = lane;
    entry.prev = lane.tail;
    entry.next = undefined;
    if (lane.tail === undefined) lane.head = entry;
    else lane.tail.next = entry;
    lane.tail = entry;
    line.queued++;
    this.#size++;
    return true;
  }

  /**
   * Undoes `served(entry)`, the grant it counted included, for a grant a shared store then
   * refused: the entry goes back among its tenant's waiters at its place in their
   * order (`precedes`), and its lane to the head of its tie group, whose turn it had.
   */
  unserve(entry: E, priority: number, precedes: (a: E, b: E) => boolean): void {
    const line = this.#lineOf(entry.tenantId);
    const lane = this.#laneFor(line, priority);
    let after: QueueEntry | undefined;
    let before = lane.head;
    while (before !== undefined && precedes(before as E, entry)) {
      after = before;
      before = before.next;
    }
    entry.lane = lane;
    entry.prev = after;
    entry.next = before;
    if (after === undefined) lane.head = entry;
    else after.next = entry;
    if (before === undefined) lane.tail = entry;
    else before.prev = entry;
    line.queued++;
    this.#size++;
    line.active--;
    this.#relink(line);
    if (!line.blocked) {
      unlink(lane);
      prepend(bucketFor(lane.level, line.active), lane);
    }
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
    const line = lane.line;
    if (lane.head === undefined) this.#dropLane(lane);
    if (--line.queued === 0 && line.active === 0) this.#becameIdle();
  }

  /**
   * The next waiter to serve: highest priority first; within a priority the unblocked tenant
   * holding the fewest slots, the one that has waited longest at that count on a tie. Does not
   * dequeue; call `served(entry)` once it is granted.
   */
  next(): E | undefined {
    for (const level of this.#levels) {
      const bucket = peekMin(level);
      if (bucket !== undefined) return (bucket.first as Lane).head as E;
    }
    return undefined;
  }

  /**
   * Dequeues a served entry and counts the slot its tenant was granted (as `granted` does: the
   * tenant moves behind those holding one fewer). Returns the tenant's hold for that slot,
   * found without a lookup.
   */
  served(entry: E): TenantHold {
    const line = (entry.lane as Lane).line;
    // Counted first, so emptying its lanes never takes the tenant for idle.
    line.active++;
    this.remove(entry);
    this.#relink(line);
    return line;
  }

  /** `tenantId` is at its cap: its waiters are passed over until `unblock`. */
  block(tenantId: string): void {
    this.#blocked.add(tenantId);
    const line = this.#lines.get(tenantId);
    if (line === undefined || line.blocked) return;
    line.blocked = true;
    for (let lane = line.firstLane; lane !== undefined; lane = lane.sibling) unlink(lane);
  }

  unblock(tenantId: string): void {
    // Every release asks; almost always no tenant is blocked, and then no lookup is needed.
    if (this.#blocked.size === 0 || !this.#blocked.delete(tenantId)) return;
    const line = this.#lines.get(tenantId);
    if (line === undefined || !line.blocked) return;
    line.blocked = false;
    for (let lane = line.firstLane; lane !== undefined; lane = lane.sibling) {
      append(bucketFor(lane.level, line.active), lane);
    }
  }

  unblockAll(): void {
    for (const tenantId of this.#blocked) this.unblock(tenantId);
  }

  /** The entries `tenantId` has queued, at every priority. */
  entriesOf(tenantId: string): E[] {
    const entries: E[] = [];
    const line = this.#lines.get(tenantId);
    for (let lane = line?.firstLane; lane !== undefined; lane = lane.sibling) {
      for (let entry = lane.head; entry !== undefined; entry = entry.next) entries.push(entry as E);
    }
    return entries;
  }

  /** Removes and returns every entry (used by drain). */
  removeAll(): E[] {
    const all: E[] = [];
    for (const line of this.#lines.values()) {
      for (let lane = line.firstLane; lane !== undefined; lane = lane.sibling) {
        for (let entry = lane.head; entry !== undefined; entry = entry.next) all.push(entry as E);
      }
    }
    for (const entry of all) this.remove(entry);
    return all;
  }

  /** `tenantId`'s line; one about to hold or wait (callers change it right away). */
  #lineOf(tenantId: string): TenantLine {
    const line = this.#lines.get(tenantId);
    return line === undefined ? this.#newLine(tenantId) : this.#reuse(line);
  }

  #newLine(tenantId: string): TenantLine {
    const line = {
      tenantId,
      active: 0,
      queued: 0,
      blocked: this.#blocked.size > 0 && this.#blocked.has(tenantId),
      firstLane: undefined,
    };
    this.#lines.set(tenantId, line);
    return line;
  }

  /** `line` is about to hold or wait: it no longer counts as idle. */
  #reuse(line: TenantLine): TenantLine {
    if (line.active === 0 && line.queued === 0) this.#idle--;
    return line;
  }

  #becameIdle(): void {
    if (++this.#idle > IDLE_KEPT && this.#idle > this.#lines.size - this.#idle) {
      for (const [tenantId, line] of this.#lines) {
        if (line.active === 0 && line.queued === 0) this.#lines.delete(tenantId);
      }
      this.#idle = 0;
    }
  }

  /** Moves `line`'s lanes to the back of the bucket of its held count. */
  #relink(line: TenantLine): void {
    if (line.blocked) return;
    for (let lane = line.firstLane; lane !== undefined; lane = lane.sibling) {
      unlink(lane);
      append(bucketFor(lane.level, line.active), lane);
    }
  }

  #laneFor(line: TenantLine, priority: number): Lane {
    for (let lane = line.firstLane; lane !== undefined; lane = lane.sibling) {
      if (lane.level.priority === priority) return lane;
    }
    let level = this.#levels.find((l) => l.priority === priority);
    if (level === undefined) {
      level = { priority, lanes: 0, buckets: new Map(), heap: [] };
      this.#levels.push(level);
      this.#levels.sort((a, b) => b.priority - a.priority);
    }
    const lane: Lane = {
      line,
      level,
      sibling: line.firstLane,
      head: undefined,
      tail: undefined,
      bucket: undefined,
      bucketPrev: undefined,
      bucketNext: undefined,
    };
    // A new tenant joins the back of its tie group: served after those already waiting.
    if (!line.blocked) append(bucketFor(level, line.active), lane);
    level.lanes++;
    line.firstLane = lane;
    return lane;
  }

  #dropLane(lane: Lane): void {
    unlink(lane);
    const { level, line } = lane;
    if (line.firstLane === lane) line.firstLane = lane.sibling;
    else {
      let before = line.firstLane as Lane;
      while (before.sibling !== lane) before = before.sibling as Lane;
      before.sibling = lane.sibling;
    }
    if (--level.lanes === 0) this.#levels.splice(this.#levels.indexOf(level), 1);
  }
}

function append(bucket: Bucket, lane: Lane): void {
  lane.bucket = bucket;
  lane.bucketPrev = bucket.last;
  lane.bucketNext = undefined;
  if (bucket.last === undefined) bucket.first = lane;
  else bucket.last.bucketNext = lane;
  bucket.last = lane;
}

function prepend(bucket: Bucket, lane: Lane): void {
  lane.bucket = bucket;
  lane.bucketPrev = undefined;
  lane.bucketNext = bucket.first;
  if (bucket.first === undefined) bucket.last = lane;
  else bucket.first.bucketPrev = lane;
  bucket.first = lane;
}

function unlink(lane: Lane): void {
  const bucket = lane.bucket;
  if (bucket === undefined) return;
  if (lane.bucketPrev === undefined) bucket.first = lane.bucketNext;
  else lane.bucketPrev.bucketNext = lane.bucketNext;
  if (lane.bucketNext === undefined) bucket.last = lane.bucketPrev;
  else lane.bucketNext.bucketPrev = lane.bucketPrev;
  lane.bucket = undefined;
  lane.bucketPrev = undefined;
  lane.bucketNext = undefined;
}

function bucketFor(level: Level, held: number): Bucket {
  let bucket = level.buckets.get(held);
  if (bucket === undefined) {
    bucket = { held, first: undefined, last: undefined, inHeap: false };
    level.buckets.set(held, bucket);
  }
  if (!bucket.inHeap) {
    bucket.inHeap = true;
    heapPush(level.heap, bucket);
  }
  return bucket;
}

/** The non-empty bucket with the fewest held slots; empty buckets met on top are discarded. */
function peekMin(level: Level): Bucket | undefined {
  const heap = level.heap;
  while (heap.length > 0) {
    const top = heap[0] as Bucket;
    if (top.first !== undefined) return top;
    heapPop(heap);
    top.inHeap = false;
    if (level.buckets.size > BUCKETS_KEPT) level.buckets.delete(top.held);
  }
  return undefined;
}

function heapPush(heap: Bucket[], bucket: Bucket): void {
  let i = heap.length;
  heap.push(bucket);
  while (i > 0) {
    const parent = (i - 1) >> 1;
    const above = heap[parent] as Bucket;
    if (above.held <= bucket.held) break;
    heap[i] = above;
    i = parent;
  }
  heap[i] = bucket;
}

function heapPop(heap: Bucket[]): void {
  const last = heap.pop() as Bucket;
  if (heap.length === 0) return;
  let i = 0;
  const n = heap.length;
  for (;;) {
    const left = 2 * i + 1;
    if (left >= n) break;
    const right = left + 1;
    let child = left;
    if (right < n && (heap[right] as Bucket).held < (heap[left] as Bucket).held) child = right;
    if ((heap[child] as Bucket).held >= last.held) break;
    heap[i] = heap[child] as Bucket;
    i = child;
  }
  heap[i] = last;
}
