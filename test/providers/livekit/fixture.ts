import { randomBytes } from 'node:crypto';
import { createServer, type RequestListener } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach } from 'vitest';
import type { BackendConfig } from '../../../src/iface/backend.js';
import {
  createBackend,
  type LiveKitBackend,
  type LiveKitProviderConfig,
} from '../../../src/index.js';
import { LiveKitStandIn, type StandInOptions } from '../../support/livekit-stand-in/stand-in.js';

export const API_KEY = 'APIstandInKey';
/** Fresh per test run, so a leak can be searched for by value. */
export const API_SECRET = `secret-${randomBytes(24).toString('base64url')}`;

const cleanups: (() => Promise<unknown> | unknown)[] = [];

/** Runs `cleanup` after the current test, last registered first. */
export function onCleanup(cleanup: () => Promise<unknown> | unknown): void {
  cleanups.push(cleanup);
}

afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()!();
});

export async function startStandIn(options: Partial<StandInOptions> = {}): Promise<LiveKitStandIn> {
  const standIn = await new LiveKitStandIn({ keys: { [API_KEY]: API_SECRET }, ...options }).start();
  onCleanup(() => standIn.stop());
  return standIn;
}

/** An HTTP server on 127.0.0.1 whose handler can be set after it is listening. */
export async function startWebhookSink(): Promise<{
  url: string;
  use(handler: RequestListener): void;
}> {
  let handler: RequestListener = (_req, res) => {
    res.writeHead(503).end();
  };
  const server = createServer((req, res) => handler(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  onCleanup(
    () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  );
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/livekit/webhook`,
    use(next) {
      handler = next;
    },
  };
}

/** Provider settings a test overrides; `undefined` leaves the default. */
export type ProviderOverrides = {
  [K in keyof LiveKitProviderConfig]?: LiveKitProviderConfig[K] | undefined;
};

/** Where a backend under test connects: the stand-in or a real server. */
export interface ServerAddress {
  readonly wsUrl: string;
  readonly apiKey: string;
  readonly apiSecret: string;
}

/** A started LiveKit backend talking to `server`, stopped after the test. */
export async function startedBackend(
  server: ServerAddress,
  providerConfig: ProviderOverrides = {},
  config: Omit<BackendConfig, 'providerConfig'> = {},
): Promise<LiveKitBackend> {
  const backend = await createBackend('livekit', {
    ...config,
    providerConfig: {
      url: server.wsUrl,
      apiKey: server.apiKey,
      apiSecret: server.apiSecret,
      agentName: 'intake',
      reconcile: false,
      ...providerConfig,
    } as LiveKitProviderConfig,
  });
  await backend.start();
  onCleanup(() => backend.stop());
  return backend;
}

/** A started LiveKit backend talking to the stand-in, stopped after the test. */
export function liveKitBackend(
  standIn: LiveKitStandIn,
  providerConfig: ProviderOverrides = {},
  config: Omit<BackendConfig, 'providerConfig'> = {},
): Promise<LiveKitBackend> {
  return startedBackend(
    { wsUrl: standIn.wsUrl, apiKey: API_KEY, apiSecret: API_SECRET },
    providerConfig,
    config,
  );
}

/** The claims of a JWT, unverified (tests inspect tokens the provider minted). */
export function jwtClaims(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString('utf8')) as Record<
    string,
    unknown
  >;
}

/**
 * Waits until `check` passes, polling; fails after `timeoutMs`. For server-side effects.
 * `refresh`, when given, runs before each check (e.g. to read the server's state).
 */
export async function eventually(
  check: () => boolean,
  timeoutMs = 5_000,
  refresh?: () => Promise<void>,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    await refresh?.();
    if (check()) return;
    if (Date.now() > deadline) throw new Error('condition not reached in time');
    await new Promise((resolve) => setTimeout(resolve, refresh === undefined ? 10 : 100));
  }
}
