import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import {
  BaseBackend,
  type OpenedSession,
  type OpenSessionRequest,
} from '../../src/backend/base-backend.js';
import type { ConnectionInfo, SessionConfig } from '../../src/iface/session.js';
import { SimulatedBackend } from '../../src/providers/simulated/simulated-backend.js';
import { startGateway } from './gateway-harness.js';

const CLIENTS = 400;
const RUNS = 3;

/**
 * A provider that answers late and ignores the abort signal: its side of a session exists
 * from the start of a setup until its teardown, as on a real media server.
 */
class LateBackend extends BaseBackend<ConnectionInfo> {
  readonly provider = 'late';
  /** Provider-side sessions in existence now. */
  open = 0;

  constructor() {
    super({});
  }

  protected async openSession(request: OpenSessionRequest): Promise<OpenedSession<ConnectionInfo>> {
    this.open++;
    await new Promise((resolve) => setTimeout(resolve, Math.random() * 30));
    let released = false;
    return {
      connection: { url: 'test://late', roomName: request.id, token: `t-${request.id}` },
      teardown: async () => {
        if (!released) this.open--;
        released = true;
      },
    };
  }

  protected async probeHealth() {
    return { healthy: true, status: 'healthy' as const };
  }
}

/**
 * One client: POSTs a session request, then at a random moment hangs up (sends FIN and keeps
 * reading, so whatever the gateway wrote before learning of it is still seen). Resolves with
 * the status it got (none if it hung up first) and the session id, if it received one.
 */
function hangingUpClient(port: number, userId: string, hangUpAfterMs: number | undefined) {
  return new Promise<{ status: string | undefined; id: string | undefined }>((resolve, reject) => {
    const body = JSON.stringify({ userId });
    const socket = connect(port, '127.0.0.1');
    let received = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      received += chunk;
    });
    socket.on('error', reject);
    socket.on('close', () => {
      clearTimeout(timer);
      const status = /^HTTP\/1\.1 (\d+)/.exec(received)?.[1];
      if (status !== '201') return resolve({ status, id: undefined });
      const body = JSON.parse(received.slice(received.indexOf('\r\n\r\n') + 4)) as { id: string };
      resolve({ status, id: body.id });
    });
    socket.write(
      'POST /v1/sessions HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n' +
        `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
    const timer =
      hangUpAfterMs === undefined ? undefined : setTimeout(() => socket.end(), hangUpAfterMs);
  });
}

/** Resolves once `settled()` holds, looking again after each turn of timers. */
async function until(settled: () => boolean): Promise<void> {
  while (!settled()) await new Promise((resolve) => setTimeout(resolve, 5));
}

describe('clients that hang up during setup', () => {
  it.each([
    [
      'the simulated backend',
      // No failures of its own: those are logged as backend failures, and this is about hang-ups.
      () =>
        new SimulatedBackend({
          providerConfig: { setupLatencyMs: 15, jitter: 1, overloadFailureRate: 0 },
        }),
    ],
    ['a backend that answers late and ignores the abort', () => new LateBackend()],
  ])(
    `leave no session nobody received (%s, ${CLIENTS} clients, ${RUNS} runs)`,
    async (_name, makeBackend) => {
      for (let run = 0; run < RUNS; run++) {
        const backend = makeBackend();
        const { url, admission, logs } = await startGateway({
          backend,
          // Part of the burst waits in the queue, part is in setup, when its client leaves.
          admission: { maxConcurrentSessions: 150, queue: { maxSize: CLIENTS, timeoutMs: 1_000 } },
          logLevel: 'info',
        });
        const port = Number(new URL(url).port);
        const answers = await Promise.all(
          Array.from({ length: CLIENTS }, (_, i) =>
            // Three in four hang up at a random moment; the rest wait for their answer.
            hangingUpClient(
              port,
              `caller-${run}-${i}`,
              i % 4 === 0 ? undefined : Math.random() * 400,
            ),
          ),
        );
        const received = new Set(answers.flatMap(({ id }) => (id === undefined ? [] : [id])));
        const hungUp = answers.filter(({ status }) => status === undefined).length;
        await until(() => {
          const stats = admission.stats();
          return (
            stats.queued === 0 &&
            stats.settingUp === 0 &&
            backend.listSessions().every((s) => s.state === 'active') &&
            stats.active === backend.listSessions().length
          );
        });
        const open = backend.listSessions().map((s) => s.id);
        const neverReceived = open.filter((id) => !received.has(id));
        const closedUnreceived = logs.lines.filter((l) =>
          String(l.msg).startsWith('session closed: its client left'),
        ).length;
        process.stdout.write(
          `run ${run + 1}: ${received.size} received, ${hungUp} hung up before an answer ` +
            `(${closedUnreceived} of them after their session was ready), ` +
            `${CLIENTS - received.size - hungUp} refused, ${open.length} open, ` +
            `never received: ${neverReceived.length}\n`,
        );
        expect(neverReceived).toEqual([]);
        // Hang-ups are ordinary: nothing about them is logged as a warning or an error.
        expect(logs.lines.filter((l) => l.level !== 'info').map((l) => l.msg)).toEqual([]);
        expect(open.length).toBe(received.size);
        if (backend instanceof LateBackend) expect(backend.open).toBe(received.size);
        // Sessions were delivered, and clients hung up while others were set up.
        expect(received.size).toBeGreaterThan(0);
        expect(hungUp).toBeGreaterThan(0);
      }
    },
    120_000,
  );
});

describe('a session ready only after its client left', () => {
  it('is closed by the gateway, even from a backend that ignores the abort signal entirely', async () => {
    const inner = new SimulatedBackend({ providerConfig: { setupLatencyMs: 1 } });
    let ready!: () => void;
    const gate = new Promise<void>((resolve) => {
      ready = resolve;
    });
    let created = 0;
    // Every call goes to the simulated backend, except that creates wait for the gate and
    // never see the caller's signal.
    const deaf = new Proxy(inner, {
      get(target, property) {
        if (property === 'createSession') {
          return async (config: SessionConfig) => {
            await gate;
            const session = await target.createSession(config);
            created += 1;
            return session;
          };
        }
        const value = Reflect.get(target, property, target) as unknown;
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const { url, logs } = await startGateway({ backend: deaf, logLevel: 'info' });
    const client = hangingUpClient(Number(new URL(url).port), 'leaver', 20);
    await logs.seen((l) => l.msg === 'request' && l.status === 499);
    ready();
    expect(await client).toEqual({ status: undefined, id: undefined });
    // The session the deaf backend produced after the client left is closed (by the admission,
    // whose caller had aborted, or by the gateway if it was ready first): none stays open.
    await until(() => created === 1 && inner.getActiveSessionCount() === 0);
    expect(inner.listSessions()).toEqual([]);
  });
});

describe('a client that pipelines its requests and hangs up', () => {
  it.each([
    ['sessions', '/v1/sessions', { userId: 'pipelined' }],
    ['slots', '/v1/slots', {}],
  ])('leaves nothing in the queue behind its first request (%s)', async (_name, path, body) => {
    const { url, admission, logs } = await startGateway({
      admission: { maxConcurrentSessions: 1, queue: { maxSize: 10, timeoutMs: 60_000 } },
      logLevel: 'info',
    });
    const blocker = await fetch(`${url}/v1/slots`, { method: 'POST' });
    expect(blocker.status).toBe(201);
    const bothQueued = new Promise<void>((resolve) => {
      let queued = 0;
      const stop = admission.on('queued', () => {
        if (++queued < 2) return;
        stop();
        resolve();
      });
    });
    // Node answers pipelined requests in turn: the second's response waits for the first's,
    // and is not on the connection yet when the client leaves.
    const text = JSON.stringify(body);
    const request =
      `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n` +
      `Content-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`;
    const socket = connect(Number(new URL(url).port), '127.0.0.1');
    socket.write(request + request);
    await bothQueued;
    socket.destroy();
    await logs.seen((l) => l.msg === 'request' && l.status === 499);
    // Both left the queue, and both are in the access log, as the client left them.
    expect(admission.stats().queued).toBe(0);
    expect(logs.lines.filter((l) => l.msg === 'request' && l.status === 499)).toHaveLength(2);
    const { id } = (await blocker.json()) as { id: string };
    await fetch(`${url}/v1/slots/${id}`, { method: 'DELETE' });
    expect(admission.stats().active).toBe(0);
  });
});

describe('a session created for a pipelined request whose client left', () => {
  it('is closed, though its answer was waiting behind another and never reached the connection', async () => {
    const { url, admission, backend, logs } = await startGateway({
      admission: {
        maxConcurrentSessions: 10,
        tenants: { max: { slow: 1 } },
        queue: { maxSize: 10, timeoutMs: 60_000 },
      },
      logLevel: 'info',
    });
    const blocker = await fetch(`${url}/v1/slots`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"tenantId":"slow"}',
    });
    expect(blocker.status).toBe(201);
    const post = (path: string, body: object) => {
      const text = JSON.stringify(body);
      return (
        `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${Buffer.byteLength(text)}\r\n\r\n${text}`
      );
    };
    const created = new Promise<void>((resolve) => {
      const stop = admission.on('session_created', () => {
        stop();
        resolve();
      });
    });
    const socket = connect(Number(new URL(url).port), '127.0.0.1');
    // The first waits for its tenant's slot; the second's session is made at once, and its 201
    // waits for the first's answer.
    socket.write(
      post('/v1/slots', { tenantId: 'slow' }) + post('/v1/sessions', { userId: 'pipelined' }),
    );
    await created;
    expect(backend.listSessions()).toHaveLength(1);
    socket.destroy();
    await logs.seen((l) => String(l.msg).startsWith('session closed: its client left'));
    await until(() => backend.listSessions().length === 0);
    expect(admission.stats().queued).toBe(0);
  }, 10_000);
});
