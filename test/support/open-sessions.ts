/**
 * What a fleet of instances really had open over time, rebuilt from the lines each instance
 * prints when its backend opens and closes a session (test/support/children/redis-instance.ts,
 * load mode), and checked against the caps and the one-live-session-per-key rule.
 */

export interface Limits {
  readonly cap: number;
  readonly tenantCap: number;
}

/**
 * A fault on one instance from `from` on. Sessions that instance opened before `from` are the
 * documented excess when it cannot fence itself (paused, or `leaseLoss: 'keep'`): the fleet
 * may exceed a cap by at most the number of them still open, and only they may share a key
 * with another live session.
 */
export interface Excused {
  readonly instance: number;
  readonly from: number;
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

interface Open {
  readonly instance: number;
  readonly tenant: string;
  readonly key: string | null;
  readonly openedAt: number;
}

type Step =
  | { readonly t: number; readonly kind: 'open'; readonly id: string; readonly open: Open }
  | { readonly t: number; readonly kind: 'close'; readonly id: string };

export function openSessions(
  instances: readonly { readonly lines: readonly Record<string, unknown>[] }[],
  limits: Limits,
  excused?: Excused,
): OpenSessionsReport {
  const steps: Step[] = [];
  for (const [instance, { lines }] of instances.entries()) {
    for (const line of lines) {
      const t = line.t as number;
      if (typeof line.open === 'string') {
        const open = {
          instance,
          tenant: String(line.tenant),
          key: (line.key as string | null) === null ? null : `${line.tenant}/${line.key}`,
          openedAt: t,
        };
        steps.push({ t, kind: 'open', id: line.open, open });
      } else if (typeof line.close === 'string') steps.push({ t, kind: 'close', id: line.close });
    }
  }
  // Closes first at equal times: a slot handed on within the same millisecond is no excess.
  steps.sort((a, b) => a.t - b.t || (a.kind === 'close' ? -1 : 1));

  const open = new Map<string, Open>();
  const byTenant = new Map<string, Open[]>();
  const byKey = new Map<string, Open[]>();
  const isExcused = (session: Open): boolean =>
    excused !== undefined &&
    session.instance === excused.instance &&
    session.openedAt < excused.from;
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
      open.set(step.id, step.open);
      const tenant = byTenant.get(step.open.tenant) ?? [];
      tenant.push(step.open);
      byTenant.set(step.open.tenant, tenant);
      if (step.open.key !== null) {
        const holders = byKey.get(step.open.key) ?? [];
        holders.push(step.open);
        byKey.set(step.open.key, holders);
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
