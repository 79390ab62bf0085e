import { once } from 'node:events';
import { afterEach } from 'vitest';
import { TokenTable } from '../../src/cli/gateway/auth.js';
import {
  createGateway,
  type GatewayOptions,
  type MetricsHandler,
} from '../../src/cli/gateway/gateway.js';
import { Admission, type AdmissionOptions } from '../../src/index.js';
import '../../src/index.js'; // installs the OpenTelemetry instrumentation, as the package entry does
import type { VoiceBackend } from '../../src/iface/backend.js';
import { SimulatedBackend } from '../../src/providers/simulated/simulated-backend.js';

export const ACME_TOKEN = 'acme-token-0123456789';
export const GLOBEX_TOKEN = 'globex-token-0123456789';
export const OPERATOR_TOKEN = 'operator-token-0123456789';
export const TOKENS = JSON.stringify({
  [ACME_TOKEN]: 'acme',
  [GLOBEX_TOKEN]: 'globex',
  [OPERATOR_TOKEN]: '*',
});

/** Log lines a gateway wrote, parsed; `next` resolves with the first (later) line matching. */
export class LogLines {
  readonly lines: Record<string, unknown>[] = [];
  readonly #waiting: { match: (l: Record<string, unknown>) => boolean; resolve: () => void }[] = [];

  write(text: string): void {
    for (const raw of text.split('\n')) {
      if (raw === '') continue;
      const line = JSON.parse(raw) as Record<string, unknown>;
      this.lines.push(line);
      for (const waiter of [...this.#waiting]) {
        if (waiter.match(line)) {
          this.#waiting.splice(this.#waiting.indexOf(waiter), 1);
          waiter.resolve();
        }
      }
    }
  }

  /** Resolves once a line matching `match` was written (at once if one was). */
  async seen(match: (line: Record<string, unknown>) => boolean): Promise<void> {
    if (this.lines.some(match)) return;
    await new Promise<void>((resolve) => this.#waiting.push({ match, resolve }));
  }

  get text(): string {
    return this.lines.map((l) => JSON.stringify(l)).join('\n');
  }
}

const closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(closers.splice(0).map((close) => close()));
});

export interface HarnessOptions {
  readonly admission?: Partial<AdmissionOptions>;
  readonly tokens?: string | undefined;
  readonly backend?: VoiceBackend;
  readonly metrics?: MetricsHandler;
  readonly livekitWebhook?: GatewayOptions['livekitWebhook'];
  readonly logLevel?: string;
  readonly logSecrets?: readonly string[];
  readonly requestTimeoutMs?: number;
  readonly maxConnections?: number;
  readonly dropsLogIntervalMs?: number;
  readonly drainTimeoutMs?: number;
  readonly keepAliveTimeoutMs?: number;
}

/** A gateway on a random loopback port over a simulated backend; closed after the test. */
export async function startGateway(options: HarnessOptions = {}) {
  const backend =
    options.backend ?? new SimulatedBackend({ providerConfig: { setupLatencyMs: 1 } });
  await backend.start();
  const admission = new Admission(backend, {
    maxConcurrentSessions: 2,
    health: false,
    telemetry: false,
    ...options.admission,
  });
  const logs = new LogLines();
  const app = createGateway({
    admission,
    tokens: options.tokens === undefined ? undefined : TokenTable.parse(options.tokens, 'tokens'),
    log: {
      level: options.logLevel ?? 'debug',
      stream: logs,
      ...(options.logSecrets === undefined ? {} : { secrets: options.logSecrets }),
    },
    metrics: options.metrics,
    livekitWebhook: options.livekitWebhook,
    version: '0.0.0-test',
    ...(options.requestTimeoutMs === undefined
      ? {}
      : { requestTimeoutMs: options.requestTimeoutMs }),
    ...(options.maxConnections === undefined ? {} : { maxConnections: options.maxConnections }),
    ...(options.dropsLogIntervalMs === undefined
      ? {}
      : { dropsLogIntervalMs: options.dropsLogIntervalMs }),
    ...(options.drainTimeoutMs === undefined ? {} : { drainTimeoutMs: options.drainTimeoutMs }),
    ...(options.keepAliveTimeoutMs === undefined
      ? {}
      : { keepAliveTimeoutMs: options.keepAliveTimeoutMs }),
  });
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  closers.push(async () => {
    await app.close();
    await backend.stop();
  });

  const call = (
    method: string,
    path: string,
    init: { body?: unknown; token?: string; headers?: Record<string, string> } = {},
  ) =>
    fetch(`${url}${path}`, {
      method,
      headers: {
        ...(init.body === undefined ? {} : { 'content-type': 'application/json' }),
        ...(init.token === undefined ? {} : { authorization: `Bearer ${init.token}` }),
        ...init.headers,
      },
      ...(init.body === undefined
        ? {}
        : { body: typeof init.body === 'string' ? init.body : JSON.stringify(init.body) }),
    });
  return { url, app, admission, backend, logs, call };
}

/** Waits for a child process to exit; resolves with its code. */
export async function exitCode(child: import('node:child_process').ChildProcess): Promise<number> {
  if (child.exitCode !== null) return child.exitCode;
  const [code] = (await once(child, 'exit')) as [number | null];
  return code ?? -1;
}
