import fc from 'fast-check';

/** The tenants scenario runs draw from: few, so tenant caps and fairness are exercised. */
export const TENANTS = ['a', 'b', 'c'] as const;
export type ScenarioTenant = (typeof TENANTS)[number];

/** Run-time limit changes, drawn by every scenario that changes limits mid-run. */
export type LimitOp =
  | { readonly kind: 'setLimit'; readonly max: number }
  | {
      readonly kind: 'setTenantLimit';
      readonly tenant: ScenarioTenant;
      readonly max: number | undefined;
    };

/** Weighted entries for `fc.oneof`: a new global cap, or a tenant cap set or removed. */
export const limitOpArbitraries: readonly fc.WeightedArbitrary<LimitOp>[] = [
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('setLimit' as const),
      max: fc.integer({ min: 1, max: 5 }),
    }),
  },
  {
    weight: 1,
    arbitrary: fc.record({
      kind: fc.constant('setTenantLimit' as const),
      tenant: fc.constantFrom(...TENANTS),
      max: fc.option(fc.integer({ min: 0, max: 3 }), { nil: undefined }),
    }),
  },
];
