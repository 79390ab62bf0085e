import { execFileSync } from 'node:child_process';
import { createWriteStream, mkdtempSync, writeFileSync } from 'node:fs';
import { Agent, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Admission } from '../../src/admission/index.js';
import { TokenTable } from '../../src/cli/gateway/auth.js';
import { createGateway } from '../../src/cli/gateway/gateway.js';
import { SimulatedBackend } from '../../src/providers/simulated/simulated-backend.js';
import {
  type Contenders,
  type Figures,
  figure,
  formatSpread,
  interleaved,
  ratioSpread,
  times,
} from '../isolated.js';
import { type BenchCase, formatRate, type Row } from '../measure.js';

/** The commit whose hand-written `node:http` gateway is the anchor. */
const LEGACY_COMMIT = 'e9b815b0038f1df8387b620ab34ecc89abd93317';
const LEGACY_FILES = ['gateway.ts', 'errors.ts', 'http-json.ts', 'session-request.ts'];
const TOKEN = 'bench-token-0123456789abcdef';
const REQUESTS = 4_000;
const CONNECTIONS = 32;
const ROUNDS = 5;
/** Passes of `REQUESTS` before the measured one: the JIT has settled for both gateways by then. */
const WARM_UP_PASSES = 3;

interface Target {
  readonly url: string;
  readonly close: () => Promise<void>;
}

const newAdmission = async (cap: number): Promise<Admission> => {
  // Instant, never failing setups: what is measured is the gateway.
  const backend = new SimulatedBackend({
    providerConfig: { setupLatencyMs: 0, jitter: 0, overloadFailureRate: 0 },
  });
  await backend.start();
  return new Admission(backend, {
    maxConcurrentSessions: cap,
    queue: { maxSize: 0 },
    health: false,
    telemetry: false,
  });
};

/**
 * The legacy gateway, taken from git into a temporary folder, its imports pointed at today's
 * sources (it uses only the error classes and validation functions at run time).
 */
async function legacyGateway(cap: number): Promise<Target> {
  const root = fileURLToPath(new URL('../../', import.meta.url));
  const dir = mkdtempSync(join(tmpdir(), 'legacy-gateway-'));
  // ES modules, like the sources, so they share one instance of the error classes.
  writeFileSync(join(dir, 'package.json'), '{"type":"module"}');
  for (const file of LEGACY_FILES) {
    const source = execFileSync('git', ['show', `${LEGACY_COMMIT}:src/cli/gateway/${file}`], {
      cwd: root,
      encoding: 'utf8',
    });
    const sources = pathToFileURL(join(root, 'src/')).href;
    writeFileSync(join(dir, file), source.replaceAll("from '../../", `from '${sources}`));
  }
  const legacy = (await import(pathToFileURL(join(dir, 'gateway.ts')).href)) as {
    createGateway(options: { admission: Admission; backend: unknown }): Server;
  };
  const admission = await newAdmission(cap);
  const server = legacy.createGateway({ admission, backend: admission.backend });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

/** Today's gateway with bearer tokens and info-level access logs (written to /dev/null). */
async function fastifyGateway(cap: number): Promise<Target> {
  const admission = await newAdmission(cap);
  const app = createGateway({
    admission,
    tokens: TokenTable.parse(JSON.stringify({ [TOKEN]: 'acme' }), 'bench'),
    log: { level: 'info', stream: createWriteStream('/dev/null') },
    version: 'bench',
  });
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  return { url, close: () => app.close() };
}

/** Sends `REQUESTS` requests over `CONNECTIONS` keep-alive connections; returns requests/s. */
async function throughput(
  target: Target,
  send: (agent: Agent, i: number) => Promise<number>,
  expected: number,
): Promise<number> {
  const agent = new Agent({ keepAlive: true, maxSockets: CONNECTIONS });
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONNECTIONS }, async () => {
      while (next < REQUESTS) {
        const status = await send(agent, next++);
        if (status !== expected) throw new Error(`${target.url}: ${status}, not ${expected}`);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  agent.destroy();
  return REQUESTS / seconds;
}

function call(
  agent: Agent,
  url: string,
  method: string,
  path: string,
  body: string | undefined,
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${url}${path}`, {
      agent,
      method,
      headers: {
        authorization: `Bearer ${TOKEN}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
    });
    req.on('response', (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        text += chunk;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** A session created then closed: the whole API path, the backend costing next to nothing. */
const createAndClose = (url: string) => async (agent: Agent, i: number) => {
  const created = await call(agent, url, 'POST', '/v1/sessions', `{"userId":"u${i}"}`);
  if (created.status !== 201) return created.status;
  const { id } = JSON.parse(created.text) as { id: string };
  return (await call(agent, url, 'DELETE', `/v1/sessions/${id}`, undefined)).status;
};

/** A refusal at the cap: routing, parsing, validation, auth, the error answer and its log. */
const refused = (url: string) => async (agent: Agent, i: number) =>
  (await call(agent, url, 'POST', '/v1/sessions', `{"userId":"u${i}"}`)).status;

/** Requests per second through the gateway `start` makes, after a warm-up pass. */
async function measure(
  start: (cap: number) => Promise<Target>,
  cap: number,
  send: (url: string) => (agent: Agent, i: number) => Promise<number>,
  expected: number,
): Promise<Figures> {
  const target = await start(cap);
  try {
    // At cap 1, one session held first makes every measured request a refusal.
    if (cap === 1) await refused(target.url)(new Agent(), -1);
    for (let pass = 0; pass < WARM_UP_PASSES; pass++) {
      await throughput(target, send(target.url), expected);
    }
    return { rate: await throughput(target, send(target.url), expected) };
  } finally {
    await target.close();
  }
}

const LEGACY_CYCLE = 'create + close a session: hand-written node:http gateway (no auth, no logs)';
const FASTIFY_CYCLE = 'create + close a session: Fastify gateway, bearer token, access log';
const LEGACY_REFUSAL = 'refused at the cap (429): hand-written gateway';
const FASTIFY_REFUSAL = 'refused at the cap (429): Fastify gateway, bearer token, access log';
/** Each row's anchor: the hand-written gateway doing the same. */
const ANCHORS: Record<string, string> = {
  [LEGACY_CYCLE]: LEGACY_CYCLE,
  [FASTIFY_CYCLE]: LEGACY_CYCLE,
  [LEGACY_REFUSAL]: LEGACY_REFUSAL,
  [FASTIFY_REFUSAL]: LEGACY_REFUSAL,
};

/** Each runs in its own process (bench/child.ts), load generator included. */
export const contenders: Contenders = {
  [LEGACY_CYCLE]: () => measure(legacyGateway, 10_000, createAndClose, 200),
  [FASTIFY_CYCLE]: () => measure(fastifyGateway, 10_000, createAndClose, 200),
  [LEGACY_REFUSAL]: () => measure(legacyGateway, 1, refused, 429),
  [FASTIFY_REFUSAL]: () => measure(fastifyGateway, 1, refused, 429),
};

export const gateway: BenchCase = {
  name: `gateway throughput over loopback (${CONNECTIONS} keep-alive connections, own process)`,
  command: 'npm run bench -- gateway',
  notes: () => [
    `The anchor is the hand-written node:http gateway of commit ${LEGACY_COMMIT.slice(0, 7)} (no auth, no logs), taken from git and run against today's sources; the Fastify gateway checks a bearer token and writes an info-level access log (to /dev/null). Both serve an Admission whose setups are instant and never fail, so what is measured is the gateway: ${REQUESTS.toLocaleString('en-US')} requests over ${CONNECTIONS} keep-alive connections after ${WARM_UP_PASSES} warm-up passes of as many, the load generated in the gateway's own process. Each row runs in its own process, ${ROUNDS} rounds interleaved; medians with the range across rounds in brackets, ratios taken round by round. Refusals are measured at cap 1 with its one session held.`,
  ],
  async run(): Promise<Row[]> {
    const names = Object.keys(contenders);
    const samples = await interleaved(import.meta.url, names, ROUNDS);
    return names.map((name) => ({
      group: this.name,
      name,
      value: formatSpread(figure(samples, name, 'rate'), formatRate),
      ratio: formatSpread(ratioSpread(samples, name, ANCHORS[name]!, 'rate'), times),
    }));
  },
};
