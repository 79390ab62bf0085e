import { ConfigError } from '../../../iface/errors.js';

export interface LimiterKeys {
  /** In the order the scripts expect them as KEYS. */
  readonly all: readonly [string, string, string, string, string];
  /** Pub/sub channel announcing freed slots. */
  readonly channel: string;
}

/** What a limiter name is, as errors say when one is not. */
export const LIMITER_NAME_RULE = '1-100 characters of A-Z a-z 0-9 . _ : -';

/** Whether `name` can name a limiter: no braces, which would move the hash tag. */
export function isLimiterName(name: string): boolean {
  return /^[A-Za-z0-9._:-]{1,100}$/.test(name);
}

/**
 * Every key of one limiter shares the hash tag `{name}`, so they live in one slot and the
 * scripts run on Redis Cluster.
 */
export function limiterKeys(name: string, prefix: string): LimiterKeys {
  if (!isLimiterName(name)) {
    throw new ConfigError('name', `must be ${LIMITER_NAME_RULE}, got ${JSON.stringify(name)}`);
  }
  const base = `${prefix}{${name}}`;
  return {
    all: [
      `${base}:leases`,
      `${base}:tenants`,
      `${base}:claims`,
      `${base}:epoch`,
      `${base}:claimed`,
    ],
    channel: `${base}:freed`,
  };
}
