import fc from 'fast-check';
import { expect, it } from 'vitest';
import { LeaseBook, RedisLease } from '../../../../src/admission/store/redis/lease-book.js';

const request = { tenantId: 't', globalLimit: 10, tenantLimit: Number.POSITIVE_INFINITY };

type Op =
  | { readonly kind: 'add' | 'renew'; readonly lease: number; readonly deadline: number }
  | { readonly kind: 'unlease' | 'delete'; readonly lease: number }
  | { readonly kind: 'check'; readonly advance: number };

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    kind: fc.constantFrom('add' as const, 'renew' as const),
    lease: fc.nat(19),
    // Mostly increasing deadlines, sometimes earlier ones (a reply re-sent after NOSCRIPT).
    deadline: fc.integer({ min: -50, max: 200 }),
  }),
  fc.record({ kind: fc.constantFrom('unlease' as const, 'delete' as const), lease: fc.nat(19) }),
  fc.record({ kind: fc.constant('check' as const), advance: fc.nat(60) }),
);

it('finds exactly the leased leases past their deadline, whatever order deadlines come in', () => {
  fc.assert(
    fc.property(fc.array(op, { maxLength: 200 }), (ops) => {
      const book = new LeaseBook();
      const leases = Array.from(
        { length: 20 },
        (_, i) => new RedisLease(`l${i}`, request, undefined),
      );
      // The model: which leases are held, which of those are leased, and their deadlines.
      const held = new Set<RedisLease>();
      const leased = new Map<RedisLease, number>();
      let now = 0;
      let base = 0;
      for (const step of ops) {
        if (step.kind === 'check') {
          now += step.advance;
          const expected = [...leased].filter(([, deadline]) => deadline <= now).map(([l]) => l);
          const overdue = book.takeOverdue(now);
          expect(new Set(overdue)).toEqual(new Set(expected));
          for (const lease of expected) leased.delete(lease);
          continue;
        }
        const lease = leases[step.lease]!;
        if (step.kind === 'add') {
          if (held.has(lease)) continue; // a lease is added once
          base += 10;
          const deadline = base + step.deadline;
          book.add(lease, deadline);
          held.add(lease);
          leased.set(lease, deadline);
        } else if (step.kind === 'renew') {
          base += 10;
          const deadline = base + step.deadline;
          book.renewed(lease, deadline);
          if (held.has(lease)) leased.set(lease, deadline);
        } else if (step.kind === 'unlease') {
          expect(book.unlease(lease)).toBe(leased.has(lease));
          leased.delete(lease);
        } else {
          book.delete(lease);
          held.delete(lease);
          leased.delete(lease);
        }
        expect(book.size).toBe(held.size);
        expect(book.unleased).toBe(held.size - leased.size);
        // Nothing leased is due before the book's next deadline.
        for (const deadline of leased.values())
          expect(deadline).toBeGreaterThanOrEqual(book.nextDeadline);
      }
    }),
  );
});
