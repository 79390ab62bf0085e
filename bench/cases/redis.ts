import { type ChildProcess, spawn } from 'node:child_process';
import { Redis } from 'ioredis';
import type { Lease } from '../../src/admission/store/capacity-store.js';
import {
  type RedisCapacityStore,
  redisStore,
} from '../../src/admission/store/redis/redis-store.js';
import { hasBinary } from '../../test/support/binaries.js';
import { type RedisServer, startRedis } from '../../test/support/redis-server.js';
import { type BenchCase, formatBytes, formatRate, type Row, ratio } from '../measure.js';

const GROUP_SCALE = 'Redis: one instance holding many leases';
const GROUP_FULL =
  'Redis: acquire + release with the cap full (50 loops, cap 20), each contender in its own process';
const SIZES = [10_000, 100_000, 200_000];
/** Leases held while Redis's memory is read, and the numbers of tenants they are spread over. */
const MEMORY_LEASES = 20_000;
const MEMORY_TENANTS = [1, 100];
const ROUNDS = 5;
const LOOPS = 50;
const CAP = 20;
const RUN_MS = 1_500;
/** The limiter the Admission contender shares its cap through. */
const FULL_LIMITER = 'bench-full';
const request = {
  tenantId: 'bulk',
  globalLimit: 10_000_000,
  tenantLimit: Number.POSITIVE_INFINITY,
};

interface Spread {
  readonly median: number;
  readonly min: number;
  readonly max: number;
}

function spread(values: readonly number[]): Spread {
  const sorted = [...values].sort((a, b) => a - b);
  return { median: sorted[Math.floor(sorted.length / 2)]!, min: sorted[0]!, max: sorted.at(-1)! };
}

const ms = (value: number): string => `${value.toFixed(value < 10 ? 2 : 0)} ms`;
const spreadMs = (s: Spread): string => `${ms(s.median)} (${ms(s.min)}–${ms(s.max)})`;

/**
 * Takes `n` leases, 5 000 at a time (a grant later than its lease's deadline is refused), spread
 * over `tenants` tenants.
 */
async function fill(store: RedisCapacityStore, n: number, tenants = 1): Promise<void> {
  for (let taken = 0; taken < n; taken += 5_000) {
    const results = await Promise.all(
      Array.from({ length: Math.min(5_000, n - taken) }, (_, i) =>
        store.tryAcquire(
          tenants === 1 ? request : { ...request, tenantId: `tenant-${(taken + i) % tenants}` },
        ),
      ),
    );
    if (results.some((result) => result.refused !== undefined)) throw new Error('fill refused');
  }
}

/**
 * How long our scripts held Redis since the last reset, from SLOWLOG (µs): median, 99th
 * percentile and longest. On a shared machine the tail includes Redis being descheduled.
 */
async function scriptStalls(
  admin: Redis,
): Promise<{ p50: number; p99: number; max: number; n: number }> {
  const log = (await admin.call('SLOWLOG', 'GET', '1000000')) as [
    unknown,
    unknown,
    number,
    string[],
  ][];
  const us = log
    .filter(([, , , args]) => String(args[0]).toLowerCase().startsWith('eval'))
    .map(([, , duration]) => Number(duration))
    .sort((a, b) => a - b);
  const at = (q: number): number => us[Math.min(us.length - 1, Math.floor(q * us.length))] ?? 0;
  return { p50: at(0.5), p99: at(0.99), max: us.at(-1) ?? 0, n: us.length };
}

const stalls = (s: { p50: number; p99: number; max: number }): string =>
  `${ms(s.p50 / 1000)} / ${ms(s.p99 / 1000)} / ${ms(s.max / 1000)}`;

/** Every lease's expiry moved into the past, as if its holder had crashed a TTL ago. */
async function ageAll(admin: Redis, name: string): Promise<void> {
  await admin.eval(
    `local m = redis.call('ZRANGE', KEYS[1], 0, -1)
     for i = 1, #m, 1000 do
       local args = {}
       for j = i, math.min(i + 999, #m) do args[#args + 1] = 1; args[#args + 1] = m[j] end
       redis.call('ZADD', KEYS[1], unpack(args))
     end`,
    1,
    `voice-admission:{${name}}:leases`,
  );
}

async function scale(server: RedisServer, admin: Redis): Promise<Row[]> {
  const rows: Row[] = [];
  const row = (name: string, value: string, target?: string, met?: boolean): void => {
    process.stderr.write(`  ${name}: ${value}\n`);
    rows.push({
      group: GROUP_SCALE,
      name,
      value,
      ratio: '',
      ...(target !== undefined ? { target, met: met === true } : {}),
    });
  };
  for (const size of SIZES) {
    const name = `scale${size}`;
    server.seedLimiter(name);
    const store = redisStore({ redis: server.url, name, leaseTtlMs: 120_000, timeoutMs: 5_000 });
    await fill(store, size);
    await admin.call('SLOWLOG', 'RESET');
    const rounds: number[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      const started = performance.now();
      await store.renewNow();
      rounds.push(performance.now() - started);
    }
    const renewal = await scriptStalls(admin);
    const label = `${size.toLocaleString('en-US')} leases`;
    row(`${label}: renewal round (median of ${ROUNDS}, min–max)`, spreadMs(spread(rounds)));
    row(
      `${label}: renewal scripts (${renewal.n}), p50 / p99 / max`,
      stalls(renewal),
      'p50 <= a few ms',
      renewal.p50 <= 3_000,
    );
    if (store.stats().held !== size) throw new Error(`lost leases: ${store.stats().held}/${size}`);
    // Connected and scripts loaded before the leases expire: the acquire below is one script.
    const survivor = redisStore({ redis: server.url, name, leaseTtlMs: 120_000 });
    await survivor.usage();
    await store.close();
    await ageAll(admin, name);
    await admin.call('SLOWLOG', 'RESET');
    const started = performance.now();
    const lease = await survivor.tryAcquire({ tenantId: 'x', globalLimit: 1, tenantLimit: 1 });
    const acquireMs = performance.now() - started;
    while ((await admin.zcard(`voice-admission:{${name}}:leases`)) > 1) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const purge = await scriptStalls(admin);
    row(`${label} expired at once: next acquire (cap 1)`, ms(acquireMs));
    row(
      `${label} expired at once: scripts while purging (${purge.n}), p50 / p99 / max`,
      stalls(purge),
      'p50 <= a few ms',
      purge.p50 <= 3_000,
    );
    await survivor.release(lease as Lease);
    await survivor.close();
    await admin.del(`voice-admission:{${name}}:leases`, `voice-admission:{${name}}:tenants`);
  }
  return rows;
}

/** Redis's memory for its data and scripts (`used_memory`), in bytes. */
async function usedMemory(admin: Redis): Promise<number> {
  const found = /^used_memory:(\d+)/m.exec(await admin.info('memory'));
  if (found === null) throw new Error('INFO memory gave no used_memory');
  return Number(found[1]);
}

/** Redis memory per held lease: `used_memory` before and after taking them, per lease. */
async function memory(server: RedisServer, admin: Redis): Promise<Row[]> {
  const rows: Row[] = [];
  for (const tenants of MEMORY_TENANTS) {
    const name = `memory${tenants}`;
    server.seedLimiter(name);
    const store = redisStore({ redis: server.url, name, leaseTtlMs: 120_000, timeoutMs: 5_000 });
    await store.usage(); // connected and its scripts loaded before the first reading
    const before = await usedMemory(admin);
    await fill(store, MEMORY_LEASES, tenants);
    const perLease = ((await usedMemory(admin)) - before) / MEMORY_LEASES;
    const held = `${MEMORY_LEASES.toLocaleString('en-US')} leases, ${tenants} tenant${tenants === 1 ? '' : 's'}`;
    process.stderr.write(`  memory, ${held}: ${formatBytes(perLease)}\n`);
    rows.push({
      group: GROUP_SCALE,
      name: `${held}: Redis memory per lease held (used_memory)`,
      value: formatBytes(perLease),
      ratio: '',
    });
    await store.close();
    await admin.del(`voice-admission:{${name}}:leases`, `voice-admission:{${name}}:tenants`);
  }
  return rows;
}

/**
 * A process that stops running past the TTL (here the event loop is held busy, which is what a
 * SIGSTOP looks like from inside) must act on its expired leases first when it runs again: the
 * time from resuming until every lease has been reported lost under leaseLoss 'end'.
 */
async function resume(server: RedisServer): Promise<Row[]> {
  const rows: Row[] = [];
  for (const size of [10_000, 100_000]) {
    const name = `resume${size}`;
    server.seedLimiter(name);
    const store = redisStore({
      redis: server.url,
      name,
      leaseTtlMs: 4_000,
      timeoutMs: 3_000,
      leaseLoss: 'end',
    });
    store.on('error', () => undefined);
    await fill(store, size);
    let lost = 0;
    let allLostAt = 0;
    // Leases already given up while filling (a slow machine) are not reported again.
    const target = size - store.stats().lostTotal;
    store.on('lease_lost', () => {
      if (++lost === target) allLostAt = performance.now();
    });
    const frozenUntil = performance.now() + 4_500;
    while (performance.now() < frozenUntil) {
      // Busy: no timer, no socket, nothing else runs, as in a paused process.
    }
    const resumedAt = performance.now();
    while (lost < target) await new Promise((resolve) => setImmediate(resolve));
    process.stderr.write(`  resume, ${target} leases: ${ms(allLostAt - resumedAt)}\n`);
    rows.push({
      group: GROUP_SCALE,
      name: `${target.toLocaleString('en-US')} leases, paused past the TTL: resume until all reported lost`,
      value: ms(allLostAt - resumedAt),
      ratio: '',
    });
    await store.close();
  }
  return rows;
}

interface Contender {
  readonly name: string;
  readonly child: ChildProcess;
  next(): Promise<Record<string, unknown>>;
}

function startContender(name: string, url: string): Contender {
  const plan = {
    contender: name,
    url,
    limiter: FULL_LIMITER,
    loops: LOOPS,
    cap: CAP,
    durationMs: RUN_MS,
  };
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      new URL('./redis-contender.ts', import.meta.url).pathname,
      JSON.stringify(plan),
    ],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  );
  const lines: Record<string, unknown>[] = [];
  const waiting: {
    resolve: (line: Record<string, unknown>) => void;
    reject: (e: Error) => void;
  }[] = [];
  child.once('exit', (code) => {
    for (const waiter of waiting.splice(0)) waiter.reject(new Error(`${name} exited with ${code}`));
  });
  let buffered = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    const complete = buffered.split('\n');
    buffered = complete.pop() ?? '';
    for (const text of complete) {
      if (text.trim() === '') continue;
      const line = JSON.parse(text) as Record<string, unknown>;
      const waiter = waiting.shift();
      if (waiter !== undefined) waiter.resolve(line);
      else lines.push(line);
    }
  });
  return {
    name,
    child,
    next: () => {
      const line = lines.shift();
      if (line !== undefined) return Promise.resolve(line);
      if (child.exitCode !== null) return Promise.reject(new Error(`${name} exited`));
      return new Promise((resolve, reject) => waiting.push({ resolve, reject }));
    },
  };
}

/** Rounds of every contender in turn (the order rotates each round); one warm-up round first. */
async function capFull(server: RedisServer): Promise<Row[]> {
  const names = ['floor', 'admission', 'admission-tenants', 'redis-semaphore'];
  server.seedLimiter(FULL_LIMITER);
  const contenders = names.map((name) => startContender(name, server.url));
  try {
    await Promise.all(contenders.map((contender) => contender.next()));
    const rates = new Map<string, number[]>(names.map((name) => [name, []]));
    for (let round = 0; round <= ROUNDS; round++) {
      for (let i = 0; i < contenders.length; i++) {
        const contender = contenders[(round + i) % contenders.length]!;
        contender.child.stdin!.write('run\n');
        const { rate } = (await contender.next()) as { rate: number };
        if (round > 0) rates.get(contender.name)!.push(rate);
        process.stderr.write(`  round ${round}, ${contender.name}: ${formatRate(rate)}\n`);
      }
    }
    const floor = spread(rates.get('floor')!);
    const ours = spread(rates.get('admission')!);
    const tenants = spread(rates.get('admission-tenants')!);
    const semaphore = spread(rates.get('redis-semaphore')!);
    // Round by round: each round ran the contenders back to back, under the same load.
    const semaphores = rates.get('redis-semaphore')!;
    const overSemaphore = (name: string): Spread =>
      spread(rates.get(name)!.map((rate, i) => rate / semaphores[i]!));
    const oneTenant = overSemaphore('admission');
    const manyTenants = overSemaphore('admission-tenants');
    const times = (s: Spread): string =>
      `${s.median.toFixed(2)}x (${s.min.toFixed(2)}x–${s.max.toFixed(2)}x)`;
    const value = (s: Spread): string =>
      `${formatRate(s.median)} (${formatRate(s.min)}–${formatRate(s.max)})`;
    return [
      {
        group: GROUP_FULL,
        name: 'floor: auto-pipelined INCR + DECR (no cap, no wait)',
        value: value(floor),
        ratio: '1.00x',
      },
      {
        group: GROUP_FULL,
        name: 'Admission + redisStore: acquire + release',
        value: value(ours),
        ratio: ratio(ours.median, floor.median),
      },
      {
        group: GROUP_FULL,
        name: 'Admission + redisStore / redis-semaphore, round by round',
        value: times(oneTenant),
        ratio: '',
        target: '>= 2x',
        met: oneTenant.median >= 2,
      },
      {
        group: GROUP_FULL,
        name: `Admission + redisStore, a tenant per loop (${LOOPS} tenants): acquire + release`,
        value: value(tenants),
        ratio: ratio(tenants.median, floor.median),
      },
      {
        group: GROUP_FULL,
        name: 'Admission + redisStore, a tenant per loop / redis-semaphore, round by round',
        value: times(manyTenants),
        ratio: '',
      },
      {
        group: GROUP_FULL,
        name: 'redis-semaphore: acquire + release',
        value: value(semaphore),
        ratio: ratio(semaphore.median, floor.median),
      },
    ];
  } finally {
    for (const contender of contenders) contender.child.stdin!.write('exit\n');
    await Promise.all(
      contenders.map(
        (contender) => new Promise((resolve) => contender.child.once('exit', resolve)),
      ),
    );
  }
}

export const redis: BenchCase = {
  name: GROUP_SCALE,
  command: 'npm run bench -- redis',
  notes: () => [
    `One instance holding many leases: it takes them 5,000 acquires at a time, then renews them all (\`renewNow\`, ${ROUNDS} rounds). Script figures are from Redis's SLOWLOG: how long each of our scripts held Redis, so on a loaded machine their tails include Redis being descheduled; read the medians. "Expired at once" moves every lease's expiry into the past, as if its holder had crashed a TTL ago, then times another instance's next acquire and the scripts that purge the expired leases meanwhile. "Paused past the TTL" holds the event loop busy past the lease TTL (what a SIGSTOP looks like from inside) and times, from resuming, until every lease has been reported lost under leaseLoss 'end'. Memory is Redis's \`used_memory\` after taking ${MEMORY_LEASES.toLocaleString('en-US')} leases minus before, per lease.`,
    `Acquire + release with the cap full: each contender runs ${LOOPS} loops against a cap of ${CAP} in its own process, for ${RUN_MS / 1000} s a round; rounds interleave the contenders, the order rotating each round; median of ${ROUNDS} rounds after a warm-up round, min–max in brackets. The floor is an auto-pipelined INCR + DECR per cycle, with no cap and no wait; ratios are against it, but the ratio to redis-semaphore is taken round by round (each round ran the contenders back to back, under the same load). Admission runs as one instance, which frees every slot itself, and wake-ups from other instances play no part. With one tenant, a slot freed here goes to the next waiter, of the same tenant, without a round trip (the lease passes over; see docs/redis.md): most cycles never reach Redis, which is why this row can beat the floor. With a tenant per loop, the fair queue hands each freed slot to another tenant, so every grant goes to Redis, in the script that carries the release: that row is the cost of the round trip.`,
  ],
  async run(): Promise<Row[]> {
    if (!hasBinary('redis-server')) throw new Error('redis-server is needed for this case');
    const server = await startRedis();
    const admin = new Redis(server.url);
    try {
      // Read before the SLOWLOG keeps every command: its entries would count as lease memory.
      const memoryRows = await memory(server, admin);
      await admin.config('SET', 'slowlog-log-slower-than', '0');
      // Redis 7 also logs the commands a script calls: room for every one of a 200,000-lease purge.
      await admin.config('SET', 'slowlog-max-len', '2000000');
      return [
        ...(await scale(server, admin)),
        ...memoryRows,
        ...(await resume(server)),
        ...(await capFull(server)),
      ];
    } finally {
      admin.disconnect();
      await server.stop();
    }
  },
};
