import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FairQueue, type Lane, type QueueEntry } from '../../src/admission/gate/fair-queue.js';

class Entry implements QueueEntry {
  lane: Lane | undefined = undefined;
  prev: QueueEntry | undefined = undefined;
  next: QueueEntry | undefined = undefined;
  constructor(
    readonly tenantId: string,
    readonly priority: number,
    readonly id: number,
  ) {}
}

/**
 * The rule written out plainly, scanning everything: highest priority first, then the
 * unblocked tenant holding the fewest slots, then the lane that has waited longest at its
 * current standing (since it joined, was last served, its held count changed or it was
 * unblocked), FIFO within a lane.
 */
class ReferenceQueue {
  readonly waiting: Entry[] = [];
  readonly held = new Map<string, number>();
  readonly blocked = new Set<string>();
  /** Per `tenant/priority` lane: when it last took its place in line. */
  readonly since = new Map<string, number>();
  #clock = 0;

  push(entry: Entry): void {
    const key = laneKey(entry);
    if (!this.waiting.some((e) => laneKey(e) === key)) this.since.set(key, this.#clock++);
    this.waiting.push(entry);
  }

  next(): Entry | undefined {
    let best: Entry | undefined;
    for (const entry of this.waiting) {
      if (this.blocked.has(entry.tenantId)) continue;
      if (best === undefined || this.#before(entry, best)) best = entry;
    }
    return best;
  }

  served(entry: Entry): void {
    this.remove(entry);
    this.#requeue((e) => laneKey(e) === laneKey(entry));
  }

  remove(entry: Entry): void {
    this.waiting.splice(this.waiting.indexOf(entry), 1);
  }

  setHeld(tenantId: string, held: number): void {
    if ((this.held.get(tenantId) ?? 0) === held) return;
    this.held.set(tenantId, held);
    if (!this.blocked.has(tenantId)) this.#requeue((e) => e.tenantId === tenantId);
  }

  unblock(tenantId: string): void {
    if (this.blocked.delete(tenantId)) this.#requeue((e) => e.tenantId === tenantId);
  }

  #requeue(inLane: (entry: Entry) => boolean): void {
    const keys = new Set(this.waiting.filter(inLane).map(laneKey));
    for (const key of [...keys].sort()) this.since.set(key, this.#clock++);
  }

  #before(a: Entry, b: Entry): boolean {
    if (a.priority !== b.priority) return a.priority > b.priority;
    const heldA = this.held.get(a.tenantId) ?? 0;
    const heldB = this.held.get(b.tenantId) ?? 0;
    if (heldA !== heldB) return heldA < heldB;
    const sinceA = this.since.get(laneKey(a)) as number;
    const sinceB = this.since.get(laneKey(b)) as number;
    if (sinceA !== sinceB) return sinceA < sinceB;
    return a.id < b.id;
  }
}

function laneKey(entry: Entry): string {
  return `${entry.tenantId}/${entry.priority}`;
}

function opOver(tenants: readonly string[]) {
  const tenant = fc.constantFrom(...tenants);
  return fc.oneof(
    {
      weight: 6,
      arbitrary: fc.record({
        kind: fc.constant('push' as const),
        tenant,
        priority: fc.constantFrom(0, 0, 1),
      }),
    },
    { weight: 4, arbitrary: fc.record({ kind: fc.constant('grant' as const) }) },
    { weight: 2, arbitrary: fc.record({ kind: fc.constant('release' as const), tenant }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('leave' as const), pick: fc.nat() }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('block' as const), tenant }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('unblock' as const), tenant }) },
    { weight: 1, arbitrary: fc.record({ kind: fc.constant('unblockAll' as const) }) },
  );
}

// Two tenants reach high held counts; five reach more ties and blocked mixes.
describe.each([[['a', 'b']], [['a', 'b', 'c', 'd', 'e']]])(
  'fair queue against a reference model (tenants %j)',
  (tenants) => {
    it('grants in the same order as the plain scan of every waiter', () => {
      fc.assert(
        fc.property(fc.array(opOver(tenants), { minLength: 1, maxLength: 150 }), (ops) => {
          const queue = new FairQueue<Entry>();
          const model = new ReferenceQueue();
          const held = new Map<string, number>();
          const setHeld = (tenantId: string, count: number): void => {
            const hold = queue.holdOf(tenantId);
            if (count > (held.get(tenantId) ?? 0)) queue.granted(hold);
            else queue.released(hold);
            held.set(tenantId, count);
            model.setHeld(tenantId, count);
            expect(queue.heldBy(tenantId)).toBe(count);
          };
          let id = 0;
          for (const step of ops) {
            switch (step.kind) {
              case 'push': {
                const entry = new Entry(step.tenant, step.priority, id++);
                queue.push(entry, step.priority);
                model.push(entry);
                break;
              }
              case 'grant': {
                const chosen = queue.next();
                expect(chosen).toBe(model.next());
                if (chosen === undefined) break;
                // Serving counts the tenant's new slot.
                const hold = queue.served(chosen);
                model.served(chosen);
                const count = (held.get(chosen.tenantId) ?? 0) + 1;
                held.set(chosen.tenantId, count);
                model.setHeld(chosen.tenantId, count);
                expect(hold.tenantId).toBe(chosen.tenantId);
                expect(queue.heldBy(chosen.tenantId)).toBe(count);
                break;
              }
              case 'release': {
                const count = held.get(step.tenant) ?? 0;
                if (count > 0) setHeld(step.tenant, count - 1);
                break;
              }
              case 'leave': {
                if (model.waiting.length === 0) break;
                const entry = model.waiting[step.pick % model.waiting.length] as Entry;
                queue.remove(entry);
                model.remove(entry);
                break;
              }
              case 'block':
                queue.block(step.tenant);
                model.blocked.add(step.tenant);
                break;
              case 'unblock':
                queue.unblock(step.tenant);
                model.unblock(step.tenant);
                break;
              case 'unblockAll':
                queue.unblockAll();
                for (const blocked of [...model.blocked]) model.unblock(blocked);
                break;
            }
            expect(queue.size).toBe(model.waiting.length);
          }
          expect(queue.next()).toBe(model.next());
          const drained = queue.removeAll();
          expect(drained.length).toBe(model.waiting.length);
          expect(queue.size).toBe(0);
          expect(queue.next()).toBeUndefined();
        }),
        { numRuns: 3_000 },
      );
    });
  },
);

describe('fair queue with many tenants', () => {
  it('forgets idle tenants past the kept ones and still serves a returning one right', () => {
    const queue = new FairQueue<Entry>();
    for (let round = 0; round < 2; round++) {
      for (let t = 0; t < 3_000; t++) {
        const entry = new Entry(`t${t}`, 0, t);
        queue.push(entry, 0);
        expect(queue.next()).toBe(entry);
        const hold = queue.served(entry);
        expect(queue.heldBy(entry.tenantId)).toBe(1);
        queue.released(hold);
      }
      expect([...queue.tenants()]).toEqual([]);
    }
    const holding = queue.holdOf('t1');
    queue.granted(holding);
    const busy = new Entry('t1', 0, 1);
    const fresh = new Entry('t2', 0, 2);
    queue.push(busy, 0);
    queue.push(fresh, 0);
    expect([...queue.tenants()].sort()).toEqual(['t1', 't2']);
    expect(queue.next()).toBe(fresh);
  });
});

describe('fair queue across many held counts', () => {
  it('serves the tenant holding fewest while held counts range wider than the buckets kept', () => {
    const queue = new FairQueue<Entry>();
    const a = new Entry('a', 0, 0);
    queue.push(a, 0);
    const holdA = queue.holdOf('a');
    // Climbs through 300 held counts, each bucket emptied behind it.
    for (let held = 1; held <= 300; held++) {
      queue.granted(holdA);
      expect(queue.next()).toBe(a);
    }
    const b = new Entry('b', 0, 1);
    queue.push(b, 0);
    const holdB = queue.holdOf('b');
    for (let held = 1; held <= 150; held++) queue.granted(holdB);
    // a comes down past b: b is served while it holds fewer, a from the moment it does.
    for (let held = 299; held >= 0; held--) {
      queue.released(holdA);
      expect(queue.next()).toBe(held < 150 ? a : b);
    }
    // Back up to b's count: a arrived there last, so b has the turn.
    for (let held = 1; held <= 150; held++) queue.granted(holdA);
    expect(queue.next()).toBe(b);
    expect(queue.heldBy('a')).toBe(150);
    expect(queue.heldBy('b')).toBe(150);
  });
});
