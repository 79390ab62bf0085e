/**
 * What a fleet of instances really had open over time, rebuilt from the lines each instance
 * prints when its backend opens and closes a session (test/support/children/redis-instance.ts,
 * load mode), and checked against the caps and the one-live-session-per-key rule.
 */

export interface Limits {
  readonly cap: number;
  readonly tenantCap: number;
}

/** One session as the fleet's lines tell it. */
export interface SessionSpan {
  readonly instance: number;
  readonly tenant: string;
  readonly key: string | null;
  readonly openedAt: number;
  /** Infinity when it never closed. */
  readonly closedAt: number;
}

/**
 * Which sessions the documented bounds allow to run over a cap (or to share a key with another
 * live session): a paused instance's calls, and under `leaseLoss: 'keep'` the calls of an
 * instance that could not renew. The fleet may exceed a cap by at most the excused sessions
 * still open. Undefined: nothing is excused.
 */
export type Excuse = (session: SessionSpan) => boolean;

/** Excuses the sessions of `instance` opened before `from` (it was paused from then on). */
export function openedBefore(instance: number, from: number): Excuse {
  return (session) => session.instance === instance && session.openedAt < from;
}

/**
 * Excuses the sessions without a key that were open on an instance when it reported a lease
 * past its deadline (`lease_overdue` lines): under 'keep' they run on without a lease. Keyed
 * sessions end at their deadline under either policy, so they are never excused here.
 */
export function runningWhenOverdue(
  instances: readonly { readonly lines: readonly Record<string, unknown>[] }[],
): Excuse {
  const overdue = instances.map(({ lines }) =>
    lines.filter((line) => line.lease_overdue !== undefined).map((line) => line.t as number),
  );
  return (session) =>
    session.key === null &&
    overdue[session.instance]!.some((t) => t >= session.openedAt && t <= session.closedAt);
}

/**
 * When each instance ran late by more than `ms` (`stalled` lines: not scheduled, or its loop held
 * up), as `instance i: N ms late at t=...`. Past the lease margin an instance cannot act on its
 * leases in time: docs/redis.md counts it as paused, which only the 'paused' fault excuses.
 */
export function stallsLongerThan(
  instances: readonly { readonly lines: readonly Record<string, unknown>[] }[],
  ms: number,
): string[] {
  return instances.flatMap(({ lines }, instance) =>
    lines
      .filter((line) => typeof line.stalled === 'number' && line.stalled > ms)
      .map(
        (line) =>
          `instance ${instance}: ${line.stalled} ms late at t=${(line.t as number).toFixed(1)}`,
      ),
  );
}

export interface OpenSessionsReport {
  /** Most sessions open at once, across the fleet and per tenant. */
  readonly peak: number;
  readonly tenantPeak: number;
  /** Total time the global cap (or any tenant cap) was exceeded, ms. */
  readonly overCapMs: number;
  /** Total time some key had two live sessions, ms. */
  readonly keyOverlapMs: number;
  /** Instants where the excess was beyond what `excused` allows (must be empty). */
  readonly violations: readonly string[];
  readonly sessions: number;
}

type Step =
  | { readonly t: number; readonly kind: 'open'; readonly id: string }
  | { readonly t: number; readonly kind: 'close'; readonly id: string };

export function openSessions(
  instances: readonly { readonly lines: readonly Record<string, unknown>[] }[],
  limits: Limits,
  excuse: Excuse = () => false,
): OpenSessionsReport {
  const steps: Step[] = [];
  const spans = new Map<string, SessionSpan>();
  for (const [instance, { lines }] of instances.entries()) {
    for (const line of lines) {
      const t = line.t as number;
      if (typeof line.open === 'string') {
        spans.set(line.open, {
          instance,
          tenant: String(line.tenant),
          key: (line.key as string | null) === null ? null : `${line.tenant}/${line.key}`,
          openedAt: t,
          closedAt: Number.POSITIVE_INFINITY,
        });
        steps.push({ t, kind: 'open', id: line.open });
      } else if (typeof line.close === 'string') {
        const span = spans.get(line.close);
        if (span !== undefined) spans.set(line.close, { ...span, closedAt: t });
        steps.push({ t, kind: 'close', id: line.close });
      }
    }
  }
  // Closes first at equal times: a slot handed on within the same millisecond is no excess.
  steps.sort((a, b) => a.t - b.t || (a.kind === 'close' ? -1 : 1));

  const open = new Map<string, SessionSpan>();
  const byTenant = new Map<string, SessionSpan[]>();
  const byKey = new Map<string, SessionSpan[]>();
  const excused = new Set([...spans.values()].filter(excuse));
  const isExcused = (session: SessionSpan): boolean => excused.has(session);
  let peak = 0;
  let tenantPeak = 0;
  let overCapMs = 0;
  let keyOverlapMs = 0;
  const violations: string[] = [];
  let previous: number | undefined;
  let overCap = false;
  let keyOverlap = false;

  for (const step of steps) {
    if (previous !== undefined) {
      if (overCap) overCapMs += step.t - previous;
      if (keyOverlap) keyOverlapMs += step.t - previous;
    }
    previous = step.t;
    if (step.kind === 'open') {
      const session = spans.get(step.id)!;
      open.set(step.id, session);
      const tenant = byTenant.get(session.tenant) ?? [];
      tenant.push(session);
      byTenant.set(session.tenant, tenant);
      if (session.key !== null) {
        const holders = byKey.get(session.key) ?? [];
        holders.push(session);
        byKey.set(session.key, holders);
      }
    } else {
      const session = open.get(step.id);
      if (session === undefined) continue;
      open.delete(step.id);
      const tenant = byTenant.get(session.tenant)!;
      tenant.splice(tenant.indexOf(session), 1);
      if (session.key !== null) {
        const holders = byKey.get(session.key)!;
        holders.splice(holders.indexOf(session), 1);
      }
    }
    const at = `t=${step.t.toFixed(1)}`;
    const allowance = [...open.values()].filter(isExcused).length;
    peak = Math.max(peak, open.size);
    overCap = open.size > limits.cap;
    if (open.size - limits.cap > allowance)
      violations.push(`${at}: ${open.size} open, cap ${limits.cap}, excused ${allowance}`);
    for (const [tenant, sessions] of byTenant) {
      tenantPeak = Math.max(tenantPeak, sessions.length);
      if (sessions.length > limits.tenantCap) overCap = true;
      const tenantAllowance = sessions.filter(isExcused).length;
      if (sessions.length - limits.tenantCap > tenantAllowance)
        violations.push(`${at}: tenant ${tenant} ${sessions.length} open, cap ${limits.tenantCap}`);
    }
    keyOverlap = false;
    for (const [key, holders] of byKey) {
      if (holders.length < 2) continue;
      keyOverlap = true;
      if (holders.filter((holder) => !isExcused(holder)).length > 1)
        violations.push(`${at}: key ${key} live ${holders.length} times`);
    }
  }
  return {
    peak,
    tenantPeak,
    overCapMs,
    keyOverlapMs,
    violations,
    sessions: steps.filter((step) => step.kind === 'open').length,
  };
}
