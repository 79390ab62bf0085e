import { type ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { limiterKeys } from '../../src/admission/store/redis/keys.js';
import { freePort, twoFreePorts } from './free-port.js';

const run = promisify(execFile);

export interface RedisServer {
  readonly port: number;
  readonly url: string;
  /** Sends redis-cli a command and returns its raw output. */
  cli(...args: string[]): Promise<string>;
  /** Kills the server (SIGKILL: no goodbye, no data kept). */
  kill(): Promise<void>;
  /**
   * Starts it again on the same port: empty, or with the data of the last `SAVE` (the RDB file
   * it wrote in its directory).
   */
  restart(): Promise<void>;
  /** `seedLimiter` on this server. */
  seedLimiter(name: string): void;
  /** Freezes the process (SIGSTOP): connections stay open, nothing is answered. */
  pause(): void;
  /** Lets a paused process go on (SIGCONT). */
  resume(): void;
  stop(): Promise<void>;
}

/**
 * Starts a throwaway redis-server on a free loopback port: no persistence, its own temp dir,
 * killed by `stop()`. `extraArgs` adds server options. A cluster node gets its cluster bus on a
 * free port of its own: by default the bus listens on the port + 10,000, which may be in the
 * kernel's ephemeral range and taken by any outgoing connection.
 */
export async function startRedis(
  extraArgs: readonly string[] = [],
  { cluster = false }: { readonly cluster?: boolean } = {},
): Promise<RedisServer> {
  const [port, busPort] = cluster ? await twoFreePorts() : [await freePort()];
  const clusterArgs =
    busPort === undefined ? [] : ['--cluster-enabled', 'yes', '--cluster-port', String(busPort)];
  const dir = mkdtempSync(join(tmpdir(), 'va-redis-'));
  let child: ChildProcess | undefined;

  const launch = async (): Promise<void> => {
    const started = spawn(
      'redis-server',
      [
        '--port',
        String(port),
        '--bind',
        '127.0.0.1',
        '--save',
        '',
        '--appendonly',
        'no',
        '--dir',
        dir,
        ...clusterArgs,
        ...extraArgs,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child = started;
    await new Promise<void>((resolve, reject) => {
      let output = '';
      const onData = (chunk: Buffer): void => {
        output += chunk.toString();
        if (output.includes('Ready to accept connections')) {
          started.stdout?.off('data', onData);
          resolve();
        }
      };
      started.stdout?.on('data', onData);
      started.once('exit', (code) =>
        reject(new Error(`redis-server exited with ${code}: ${output}`)),
      );
    });
    started.removeAllListeners('exit');
  };

  const kill = async (): Promise<void> => {
    const current = child;
    child = undefined;
    if (current === undefined || current.exitCode !== null) return;
    const exited = new Promise((resolve) => current.once('exit', resolve));
    current.kill('SIGKILL');
    await exited;
  };

  await launch();
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    cli: async (...args) => (await run('redis-cli', ['-p', String(port), ...args])).stdout.trim(),
    kill,
    restart: launch,
    seedLimiter: (name) => seedLimiter(port, name),
    pause: () => child?.kill('SIGSTOP'),
    resume: () => child?.kill('SIGCONT'),
    stop: async () => {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Writes the epoch of a limiter served by this Redis process (see scripts.ts), unless it has one. */
const SEED_EPOCH = `
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
local server = string.match(redis.call('INFO', 'server'), 'run_id:(%x+)')
redis.call('HSET', KEYS[1], 'id', ARGV[1], 'recoverUntil', 0, 'server', server)
return 1
`;

/**
 * Makes limiter `name` (default key prefix) look like one the Redis on `port` (any node of a
 * cluster) has served for longer than any lease TTL, as a deployment's Redis has. A Redis
 * started less than a TTL ago holds new leases back for a limiter it has no epoch for (it may
 * have lost leases still in use: docs/redis.md), so without this every test's first acquires
 * on a fresh server would wait a TTL. Does nothing to a limiter that has an epoch. Synchronous,
 * so that a store can be made in the same call.
 */
export function seedLimiter(port: number, name: string): void {
  const [, , , epoch] = limiterKeys(name, 'voice-admission:').all;
  const reply = execFileSync(
    'redis-cli',
    ['-c', '-p', String(port), 'EVAL', SEED_EPOCH, '1', epoch, `seeded:${name}`],
    { encoding: 'utf8' },
  );
  if (!/^[01]\s*$/.test(reply)) throw new Error(`seeding limiter ${name} failed: ${reply}`);
}

export interface RedisCluster {
  readonly ports: readonly number[];
  stop(): Promise<void>;
}

/** Three masters on loopback joined into a cluster (no replicas). */
export async function startRedisCluster(masters = 3): Promise<RedisCluster> {
  const nodes: RedisServer[] = [];
  for (let i = 0; i < masters; i++) {
    nodes.push(await startRedis(['--cluster-config-file', `nodes-${i}.conf`], { cluster: true }));
  }
  const stop = async (): Promise<void> => {
    await Promise.all(nodes.map((node) => node.stop()));
  };
  try {
    await run('redis-cli', [
      '--cluster',
      'create',
      ...nodes.map((node) => `127.0.0.1:${node.port}`),
      '--cluster-replicas',
      '0',
      '--cluster-yes',
    ]);
    // Slots are assigned at once, but each node learns the others' over the cluster bus.
    for (let attempt = 0; ; attempt++) {
      const states = await Promise.all(nodes.map((node) => node.cli('cluster', 'info')));
      if (states.every((info) => info.includes('cluster_state:ok'))) break;
      if (attempt > 200) throw new Error('redis cluster did not converge');
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return { ports: nodes.map((node) => node.port), stop };
}
