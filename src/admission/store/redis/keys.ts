import { ConfigError } from '../../../iface/errors.js';

export interface LimiterKeys {
  /** In the order the scripts expect them as KEYS. */
  readonly all: readonly [string, string, string, string, string];
  /** Pub/sub channel announcing freed slots. */
  readonly channel: string;
}

/**
 * Every key of one limiter shares the hash tag `{name}`, so they live in one slot and the
 * scripts run on Redis Cluster.
 */
export function limiterKeys(name: string, prefix: string): LimiterKeys {
  if (!/^[A-Za-z0-9._:-]{1,100}$/.test(name)) {
    throw new ConfigError(
      'name',
      `must be 1-100 characters of A-Z a-z 0-9 . _ : -, got ${JSON.stringify(name)}`,
    );
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
