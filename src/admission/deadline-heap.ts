/** An entry with a deadline; `heapIndex` is owned by the heap (-1 when not in it). */
export interface Deadlined {
  deadline: number;
  heapIndex: number;
}

/**
 * An indexed binary min-heap on `deadline` driving one unref'ed timer, instead of a timer per
 * waiter: less memory per waiter, and removal on grant is O(log n) rather than left to expire.
 */
export class DeadlineHeap<T extends Deadlined> {
  readonly #items: T[] = [];
  readonly #onExpired: (item: T) => void;
  #timer: NodeJS.Timeout | undefined;
  #armedFor = Number.POSITIVE_INFINITY;

  constructor(onExpired: (item: T) => void) {
    this.#onExpired = onExpired;
  }

  get size(): number {
    return this.#items.length;
  }

  push(item: T): void {
    item.heapIndex = this.#items.length;
    this.#items.push(item);
    this.#siftUp(item.heapIndex);
    if (item.deadline < this.#armedFor) this.#arm();
  }

  remove(item: T): void {
    const index = item.heapIndex;
    if (index < 0) return;
    item.heapIndex = -1;
    const last = this.#items.pop()!;
    if (index < this.#items.length) {
      this.#items[index] = last;
      last.heapIndex = index;
      this.#siftDown(index);
      this.#siftUp(last.heapIndex);
    }
    if (this.#items.length === 0) this.#disarm();
  }

  /** Stops the timer; entries stay (used when everything is being rejected anyway). */
  clear(): void {
    for (const item of this.#items) item.heapIndex = -1;
    this.#items.length = 0;
    this.#disarm();
  }

  #expire(): void {
    this.#timer = undefined;
    this.#armedFor = Number.POSITIVE_INFINITY;
    const now = performance.now();
    // Collect first: expiring a waiter may grant or enqueue others, which touches the heap.
    const expired: T[] = [];
    while (this.#items.length > 0 && this.#items[0]!.deadline <= now) {
      const item = this.#items[0]!;
      this.remove(item);
      expired.push(item);
    }
    for (const item of expired) this.#onExpired(item);
    if (this.#items.length > 0 && this.#timer === undefined) this.#arm();
  }

  #arm(): void {
    const first = this.#items[0];
    if (first === undefined) return;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#armedFor = first.deadline;
    this.#timer = setTimeout(
      () => this.#expire(),
      Math.max(0, Math.ceil(first.deadline - performance.now())),
    );
    this.#timer.unref();
  }

  #disarm(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#armedFor = Number.POSITIVE_INFINITY;
  }

  #siftUp(start: number): void {
    const items = this.#items;
    let index = start;
    const item = items[index]!;
    while (index > 0) {
      const parentIndex = (index - 1) >> 1;
      const parent = items[parentIndex]!;
      if (parent.deadline <= item.deadline) break;
      items[index] = parent;
      parent.heapIndex = index;
      index = parentIndex;
    }
    items[index] = item;
    item.heapIndex = index;
  }

  #siftDown(start: number): void {
    const items = this.#items;
    const length = items.length;
    let index = start;
    const item = items[index]!;
    for (;;) {
      const left = 2 * index + 1;
      if (left >= length) break;
      const right = left + 1;
      const child = right < length && items[right]!.deadline < items[left]!.deadline ? right : left;
      const childItem = items[child]!;
      if (childItem.deadline >= item.deadline) break;
      items[index] = childItem;
      childItem.heapIndex = index;
      index = child;
    }
    items[index] = item;
    item.heapIndex = index;
  }
}
