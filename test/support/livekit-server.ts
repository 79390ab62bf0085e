import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'vitest';
import { freeUdpPort, twoFreePorts } from './free-port.js';
import { liveKitServerMissing, liveKitServerPath } from './livekit-server-binary.js';

export interface LiveKitServerOptions {
  /** API keys the server accepts. Default: one fresh key with a 48-character secret. */
  readonly keys?: Readonly<Record<string, string>>;
  /** Where the server POSTs its webhooks. Default: none (webhooks off). */
  readonly webhookUrls?: readonly string[];
  /** The key whose secret signs webhooks. Default: the first of `keys`. */
  readonly webhookApiKey?: string;
  /** Server-wide room defaults, in seconds (a room's own CreateRoom options override them). */
  readonly emptyTimeout?: number;
  readonly departureTimeout?: number;
}

export interface LiveKitServer {
  /** `http://127.0.0.1:<port>` (Twirp API, `GET /`). */
  readonly url: string;
  /** `ws://127.0.0.1:<port>` (participants, agent workers). */
  readonly wsUrl: string;
  readonly apiKey: string;
  readonly apiSecret: string;
  /** Everything the server has logged so far (for failure messages). */
  output(): string;
  /** Kills the process (SIGKILL: no goodbye, rooms and dispatches lost); ports are kept. */
  kill(): Promise<void>;
  /**
   * Asks the process to stop, as an operator would (SIGTERM): the node stops taking rooms,
   * waits for its participants to leave, then closes its rooms and exits. Resolves once it
   * has exited; ports are kept.
   */
  terminate(): Promise<void>;
  /** Freezes the process (SIGSTOP): connections are accepted by the system, nothing is answered. */
  pause(): void;
  /** Lets a paused process go on (SIGCONT): it serves what it had been sent meanwhile. */
  resume(): void;
  /** Starts it again with the same config and ports, with no rooms. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/** From serving `GET /` to taking a SIGTERM, with a margin (see `terminate`). */
const SERVE_TO_RUNNING_MS = 150;

/**
 * The server's YAML config, as JSON (a subset of YAML), so no YAML writer is needed: loopback
 * only (API, ICE over TCP and UDP, loopback candidates advertised), our keys, short room
 * timeouts so rooms finish within a test, webhooks to the test's handler.
 */
function configBody(
  ports: { http: number; tcp: number; udp: number },
  options: LiveKitServerOptions,
  keys: Readonly<Record<string, string>>,
): string {
  const webhookUrls = options.webhookUrls ?? [];
  return JSON.stringify({
    port: ports.http,
    bind_addresses: ['127.0.0.1'],
    keys,
    rtc: {
      tcp_port: ports.tcp,
      udp_port: ports.udp,
      use_external_ip: false,
      node_ip: '127.0.0.1',
      enable_loopback_candidate: true,
    },
    room: {
      empty_timeout: options.emptyTimeout ?? 10,
      departure_timeout: options.departureTimeout ?? 3,
    },
    logging: { level: 'warn' },
    ...(webhookUrls.length === 0
      ? {}
      : {
          webhook: {
            api_key: options.webhookApiKey ?? Object.keys(keys)[0],
            urls: webhookUrls,
          },
        }),
  });
}

/**
 * Starts the real livekit-server (see livekit-server-binary.ts) on free loopback ports, ready
 * once `GET /` answers 200. One node, no Redis: rooms live in the process.
 */
export async function startLiveKitServer(
  options: LiveKitServerOptions = {},
): Promise<LiveKitServer> {
  const missing = liveKitServerMissing();
  if (missing !== undefined) throw new Error(missing);
  const keys = options.keys ?? {
    [`APIlk${randomBytes(6).toString('hex')}`]: randomBytes(36).toString('base64url'),
  };
  const [apiKey, apiSecret] = Object.entries(keys)[0]!;
  const [http, tcp] = await twoFreePorts();
  const ports = { http, tcp, udp: await freeUdpPort() };
  const url = `http://127.0.0.1:${ports.http}`;
  const body = configBody(ports, options, keys);
  let child: ChildProcess | undefined;
  let readyAt = 0;
  let output = '';

  const launch = async (): Promise<void> => {
    const started = spawn(liveKitServerPath(), ['--config-body', body], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = started;
    // A test process that dies without stopping it must not leave the server running.
    const killOnExit = (): void => {
      started.kill('SIGKILL');
    };
    process.once('exit', killOnExit);
    started.once('exit', () => process.off('exit', killOnExit));
    const collect = (chunk: Buffer): void => {
      output += chunk.toString('utf8');
    };
    started.stdout?.on('data', collect);
    started.stderr?.on('data', collect);
    const exited = new Promise<never>((_, reject) =>
      started.once('exit', (code, signal) =>
        reject(new Error(`livekit-server exited (${code ?? signal}) before ready:\n${output}`)),
      ),
    );
    exited.catch(() => undefined);
    await Promise.race([exited, untilReady(url, started)]);
    readyAt = performance.now();
  };

  const stopWith = async (signal: NodeJS.Signals): Promise<void> => {
    const current = child;
    child = undefined;
    if (current === undefined || current.exitCode !== null || current.signalCode !== null) return;
    const exited = new Promise((resolve) => current.once('exit', resolve));
    current.kill(signal);
    await exited;
  };
  const kill = (): Promise<void> => stopWith('SIGKILL');
  const terminate = async (): Promise<void> => {
    // The node answers `GET /` 100 ms before it counts as running (LivekitServer.Start sleeps
    // that long after Serve), and a SIGTERM before then is swallowed (Stop returns early).
    const running = readyAt + SERVE_TO_RUNNING_MS - performance.now();
    if (running > 0) await new Promise((resolve) => setTimeout(resolve, running));
    await stopWith('SIGTERM');
  };

  await launch();
  return {
    url,
    wsUrl: `ws://127.0.0.1:${ports.http}`,
    apiKey,
    apiSecret,
    output: () => output,
    kill,
    terminate,
    pause: () => child?.kill('SIGSTOP'),
    resume: () => child?.kill('SIGCONT'),
    restart: launch,
    stop: kill,
  };
}

/** Polls `GET /` until the node answers 200 (it answers 406 until its stats are in). */
async function untilReady(url: string, child: ChildProcess): Promise<void> {
  while (child.exitCode === null && child.signalCode === null) {
    const status = await fetch(`${url}/`, { signal: AbortSignal.timeout(1_000) }).then(
      async (response) => {
        await response.body?.cancel();
        return response.status;
      },
      () => 0,
    );
    if (status === 200) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * A describe block that needs the real LiveKit server. Without the binary it skips locally
 * (saying how to build it) but fails under CI=true, which builds it (see .ci/run).
 */
export function describeWithLiveKitServer(title: string, body: () => void): void {
  const missing = liveKitServerMissing();
  if (missing === undefined) describe(title, body);
  else if (process.env.CI === 'true') {
    describe(title, () => {
      it('needs livekit-server', () => {
        throw new Error(missing);
      });
    });
  } else describe.skip(`${title} (${missing})`, body);
}
