import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RedisServer, startRedis } from '../support/redis-server.js';
import {
  consumerProject,
  documents,
  gatewayImage,
  HUNG_AFTER_MS,
  type Installed,
  manifest,
  pack,
  packagesTheExamplesNeed,
  peersNamedFor,
  readmeInstallWithoutPeers,
  root,
  run,
  runScript,
  typeCheck,
  writeExamples,
} from './consumer-project.js';

/**
 * The package as a user gets it: `npm pack`, then `npm install` of the tarball into empty
 * applications, with nothing but what the package declares plus, per scenario, exactly the
 * packages the docs tell the user to install.
 */

const work = mkdtempSync(join(tmpdir(), 'va-consumer-'));
const markdowns = documents(readdirSync(join(root, 'docs')));
/** What each scenario gives `npm install` besides the tarball: packages, and flags if any. */
const SCENARIOS = {
  plain: [],
  noPeers: readmeInstallWithoutPeers(),
  prometheus: peersNamedFor('startPrometheus'),
  tracing: peersNamedFor('setupTracing'),
  examples: packagesTheExamplesNeed(markdowns),
  image: gatewayImage().packages,
} as const satisfies Record<string, readonly string[]>;
type Scenario = keyof typeof SCENARIOS;
const installs = new Map<Scenario, Promise<Installed>>();
/** What packing and the installs may take, and removing them again. */
const INSTALL_BUDGET_MS = 180_000;

// Tens of thousands of installed files: on a busy disk removing them takes as long as writing
// them did, so the hook has the installs' budget and does not block the event loop meanwhile.
// It waits for every install first: with a test name filter, scenarios no test awaited are still
// writing, and removing under them fails with ENOTEMPTY.
afterAll(async () => {
  await Promise.allSettled(installs.values());
  await rm(work, { recursive: true, force: true });
}, INSTALL_BUDGET_MS);
beforeAll(async () => {
  const tarball = await pack(work);
  // One install per scenario, all at once: mostly waiting on the disk and npm's cache.
  for (const [scenario, packages] of Object.entries(SCENARIOS) as [Scenario, string[]][]) {
    const install = consumerProject(join(work, scenario), tarball, packages);
    install.catch(() => undefined); // reported by the scenario that awaits it
    installs.set(scenario, install);
  }
}, INSTALL_BUDGET_MS);

/** The application of `scenario`, once installed. */
const project = async (scenario: Scenario): Promise<string> => (await installs.get(scenario)!).dir;

const CLEAN = { nodenext: '', bundler: '' };

/** tsc's diagnostics under both module resolutions, checked side by side. */
async function typeCheckBoth(dir: string, files: readonly string[]) {
  const [nodenext, bundler] = await Promise.all([
    typeCheck(dir, 'nodenext', files),
    typeCheck(dir, 'bundler', files),
  ]);
  return { nodenext, bundler };
}

/** What each entry point exports at run time, for both module systems. */
const ENTRIES: Readonly<Record<string, readonly string[]>> = {
  'voice-admission': [
    'Admission',
    'AdmissionError',
    'BackendError',
    'createBackend',
    'createSessionWithLimit',
    'memoryStore',
    'redisStore',
  ],
  'voice-admission/telemetry': ['MissingPeerError', 'setupTracing', 'startPrometheus'],
  'voice-admission/livekit-agents': ['admitAgentJobs'],
};

/** One admission through the simulated backend, and a refusal at the cap. */
const FLOW = `
  const backend = await createBackend('simulated', { providerConfig: { setupLatencyMs: 1 } });
  await backend.start();
  const session = await createSessionWithLimit(backend, { userId: 'u' }, 1);
  const refused = await createSessionWithLimit(backend, { userId: 'v' }, 1).catch((e) => e);
  await session.close();
  await backend.stop();
  console.log(JSON.stringify({ room: session.connection.roomName.startsWith('sim-'), code: refused.code, isError: refused instanceof AdmissionError }));
`;

/** The same script as an ES module (`import`) and as CommonJS (`require`). */
function bothModuleSystems(imports: string, body: string): { esm: string; cjs: string } {
  const specifiers = [...imports.matchAll(/\{([^}]*)\}\s+from\s+'([^']+)'/g)];
  return {
    esm: `${imports}\n${body}`,
    cjs: `${specifiers
      .map(([, names, from]) => `const {${names}} = require('${from}');`)
      .join(
        '\n',
      )}\n(async () => {${body}})().catch((error) => { console.error(error); process.exitCode = 1; });`,
  };
}

async function runBoth(dir: string, name: string, imports: string, body: string) {
  const { esm, cjs } = bothModuleSystems(imports, body);
  return Promise.all([runScript(dir, `${name}.mjs`, esm), runScript(dir, `${name}.cjs`, cjs)]);
}

describe('a plain install: the tarball and nothing else', () => {
  let app: string;
  beforeAll(async () => {
    app = await project('plain');
  }, 180_000);

  it('installs without running or asking to allow any script of the package', async () => {
    const installed = join(app, 'node_modules', manifest.name, 'package.json');
    const { scripts = {} } = JSON.parse(readFileSync(installed, 'utf8')) as {
      scripts?: Record<string, string>;
    };
    // What npm runs when it installs a package (prepare: from git or a folder).
    const atInstall = ['preinstall', 'install', 'postinstall', 'prepare'];
    expect(Object.keys(scripts).filter((name) => atInstall.includes(name))).toEqual([]);
    expect((await installs.get('plain')!).warnings).not.toMatch(/install.scripts|allowScripts/);
  });

  it("npx voice-admission --help, --version, and each command's --help answer and exit 0", async () => {
    const help = await run('npx', ['--no-install', 'voice-admission', '--help'], app);
    expect(help.stderr).toBe('');
    expect(help).toMatchObject({ code: 0 });
    expect(help.stdout).toContain('voice-admission <command>');
    const version = await run('npx', ['--no-install', 'voice-admission', '--version'], app);
    expect(version).toEqual({ code: 0, stdout: `${manifest.version}\n`, stderr: '' });
    for (const command of ['serve', 'burst', 'demo', 'openapi']) {
      const usage = await run('npx', ['--no-install', 'voice-admission', command, '--help'], app);
      expect({ command, code: usage.code, stderr: usage.stderr }).toEqual({
        command,
        code: 0,
        stderr: '',
      });
      expect(usage.stdout).toContain(`voice-admission ${command}`);
    }
  }, 60_000);

  it('npx voice-admission serve --metrics without the Prometheus packages stops at once, naming them', async () => {
    const serve = await run(
      'npx',
      [
        '--no-install',
        'voice-admission',
        'serve',
        '--metrics',
        '--port',
        '0',
        '--host',
        '127.0.0.1',
      ],
      app,
    );
    expect(serve).toEqual({
      code: 1,
      stdout: '',
      stderr: expect.stringContaining(`npm install ${peersNamedFor('startPrometheus').join(' ')}`),
    });
  }, 60_000);

  it('npx voice-admission serve with REDIS_URL but without ioredis stops at once, naming it', async () => {
    // Stopped after 20 s if it listens instead (a refusal exits at once).
    const serve = await run(
      'timeout',
      [
        '20',
        'env',
        'REDIS_URL=redis://127.0.0.1:1',
        'npx',
        '--no-install',
        'voice-admission',
        'serve',
      ],
      app,
    );
    expect(serve).toEqual({
      code: 1,
      stdout: '',
      stderr: expect.stringContaining('npm install ioredis'),
    });
  }, 60_000);

  it('npx voice-admission demo runs the burst through both sides', async () => {
    const demo = await run(
      'npx',
      ['--no-install', 'voice-admission', 'demo', '--requests', '40'],
      app,
    );
    expect(demo.stderr).toBe('');
    expect(demo.code).toBe(0);
    expect(demo.stdout.trimEnd().split('\n').at(-1)).toMatch(/^With Admission: 40\/40 joined/);
    for (const line of demo.stdout.split('\n')) expect(line.length).toBeLessThanOrEqual(80);
  }, 60_000);

  it('every entry point loads through import and require', async () => {
    for (const [entry, names] of Object.entries(ENTRIES)) {
      const body = `console.log(JSON.stringify(${JSON.stringify(names)}.map((name) => typeof m[name])));`;
      const [esm, cjs] = await Promise.all([
        runScript(app, 'entry.mjs', `const m = await import('${entry}');\n${body}`),
        runScript(app, 'entry.cjs', `const m = require('${entry}');\n${body}`),
      ]);
      const expected = `${JSON.stringify(names.map(() => 'function'))}\n`;
      expect({ entry, ...esm }).toEqual({ entry, code: 0, stdout: expected, stderr: '' });
      expect({ entry, ...cjs }).toEqual({ entry, code: 0, stdout: expected, stderr: '' });
    }
  }, 60_000);

  it('admits through the simulated backend and loads the LiveKit provider on demand, in both module systems', async () => {
    const imports = `import { createBackend, createSessionWithLimit, AdmissionError } from 'voice-admission';`;
    for (const result of await runBoth(app, 'flow', imports, FLOW)) {
      expect(result.stderr).toBe('');
      expect(JSON.parse(result.stdout)).toEqual({ room: true, code: 'capacity', isError: true });
    }
    const livekit = `
      const b = await createBackend('livekit', { providerConfig: { url: 'ws://127.0.0.1:7880', apiKey: 'k', apiSecret: 's' } });
      console.log(b.provider, typeof b.webhookHandler);`;
    for (const result of await runBoth(app, 'livekit', imports, livekit)) {
      expect(result).toEqual({ code: 0, stdout: 'livekit function\n', stderr: '' });
    }
  }, 60_000);

  it('a telemetry helper without its peers says which packages to install', async () => {
    const imports = `import { setupTracing, startPrometheus } from 'voice-admission/telemetry';`;
    const body = `
      const errors = [await startPrometheus({ port: 0 }).catch((e) => e), await setupTracing({ exporter: { export() {}, async shutdown() {} } }).catch((e) => e)];
      console.log(JSON.stringify(errors.map((e) => [e.code, e.message])));`;
    for (const result of await runBoth(app, 'missing-peers', imports, body)) {
      expect(result.stderr).toBe('');
      const [prometheus, tracing] = JSON.parse(result.stdout) as [string, string][];
      expect(prometheus![0]).toBe('missing_peer');
      expect(tracing![0]).toBe('missing_peer');
      expect(prometheus![1]).toContain(`npm install ${peersNamedFor('startPrometheus').join(' ')}`);
      expect(tracing![1]).toContain(`npm install ${peersNamedFor('setupTracing').join(' ')}`);
    }
  }, 60_000);

  it('an ES module application bundled with esbuild builds without the optional peers, and names them when used', async () => {
    writeFileSync(
      join(app, 'bundled.mjs'),
      `import { createBackend, createSessionWithLimit, AdmissionError, redisStore } from 'voice-admission';
import { setupTracing, startPrometheus } from 'voice-admission/telemetry';
import { admitAgentJobs } from 'voice-admission/livekit-agents';
${FLOW}
const store = redisStore({ redis: 'redis://127.0.0.1:1', name: 'bundled' });
store.on('error', () => undefined);
const missing = [await startPrometheus({ port: 0 }).catch((e) => e), await setupTracing({ exporter: { export() {}, async shutdown() {} } }).catch((e) => e)];
await store.close();
console.log(JSON.stringify([typeof admitAgentJobs, ...missing.map((e) => e.code)]));`,
    );
    // The bundler is the application's tool, as tsc is: this repository's copy.
    const esbuild = join(root, 'node_modules/.bin/esbuild');
    const bundled = await run(
      esbuild,
      ['bundled.mjs', '--bundle', '--platform=node', '--format=esm', '--outfile=dist/bundled.mjs'],
      app,
    );
    expect({ code: bundled.code, errors: bundled.stderr.match(/\[ERROR\].*/g) }).toEqual({
      code: 0,
      errors: null,
    });
    const ran = await run(process.execPath, ['dist/bundled.mjs'], app);
    expect(ran.stderr).toBe('');
    const [flow, missing] = ran.stdout
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(flow).toEqual({ room: true, code: 'capacity', isError: true });
    expect(missing).toEqual(['function', 'missing_peer', 'missing_peer']);
  }, 60_000);

  it('a Redis store given a URL without ioredis says to install it, in both module systems', async () => {
    const imports = `import { Admission, createBackend, redisStore } from 'voice-admission';`;
    const body = `
      const backend = await createBackend('simulated');
      const store = redisStore({ redis: 'redis://127.0.0.1:1', name: 'consumer' });
      const reported = [];
      store.on('error', ({ error }) => reported.push(error.message));
      const admission = new Admission(backend, { maxConcurrentSessions: 1, store, health: false });
      admission.on('store_error', ({ error }) => reported.push(error.message));
      const refused = await admission.createSession({ userId: 'u' }).catch((e) => e);
      await store.close();
      const causes = [];
      for (let e = refused; e !== undefined; e = e.cause) causes.push(e.code);
      console.log(JSON.stringify({ causes, message: refused.cause.message, reported: reported.every((m) => m.includes('npm install ioredis')) }));`;
    for (const result of await runBoth(app, 'redis-url', imports, body)) {
      expect(result.stderr).toBe('');
      expect(JSON.parse(result.stdout)).toEqual({
        causes: expect.arrayContaining(['store_unavailable', 'missing_peer']),
        message: expect.stringContaining('redisStore() needs ioredis: npm install ioredis'),
        reported: true,
      });
    }
  }, 60_000);

  it("an error thrown by any entry point is an instance of its entry's class, in both module systems", async () => {
    const imports = `import { Admission, ConfigError, createBackend, redisStore } from 'voice-admission';
import { MissingPeerError, openTelemetry } from 'voice-admission/telemetry';
import { admitAgentJobs } from 'voice-admission/livekit-agents';`;
    const body = `
      const thrown = (f) => { try { f(); } catch (e) { return e; } };
      const store = redisStore({ redis: 'redis://127.0.0.1:1', name: 'consumer' });
      store.on('error', () => undefined);
      const backend = await createBackend('simulated');
      const admission = new Admission(backend, { maxConcurrentSessions: 1, store, health: false, telemetry: false });
      admission.on('store_error', () => undefined);
      const refused = await admission.createSession({ userId: 'u' }).catch((e) => e);
      await store.close();
      const causes = [];
      for (let e = refused; e !== undefined; e = e.cause) causes.push(e);
      console.log(JSON.stringify({
        telemetry: thrown(() => openTelemetry({ maxTenants: -1 })) instanceof ConfigError,
        agents: thrown(() => admitAgentJobs(null)) instanceof ConfigError,
        missingPeer: causes.some((e) => e instanceof MissingPeerError),
      }));`;
    for (const result of await runBoth(app, 'instances', imports, body)) {
      expect(result.stderr).toBe('');
      expect(JSON.parse(result.stdout)).toEqual({
        telemetry: true,
        agents: true,
        missingPeer: true,
      });
    }
  }, 60_000);

  it('ships its LICENSE, and every relative link of its README and docs points into the package', () => {
    const installed = join(app, 'node_modules', manifest.name);
    expect(readFileSync(join(installed, 'LICENSE'), 'utf8')).toMatch(/^MIT License/);
    const shipped = documents(readdirSync(join(installed, 'docs')));
    const broken = shipped.flatMap((markdown) =>
      [...readFileSync(join(installed, markdown), 'utf8').matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)]
        .map(([, target]) => target!)
        .filter((target) => !/^[a-z]+:/.test(target))
        .filter((target) => !existsSync(join(installed, dirname(markdown), target)))
        .map((target) => `${markdown} -> ${target}`),
    );
    expect(shipped).toEqual(markdowns);
    expect(broken).toEqual([]);
  });

  it('ships source maps that embed every source they name, and no path of the build machine', () => {
    const dist = join(app, 'node_modules', manifest.name, 'dist');
    const unembedded = readdirSync(dist)
      .filter((file) => file.endsWith('.map'))
      .flatMap((file) => {
        const map = JSON.parse(readFileSync(join(dist, file), 'utf8')) as {
          sources: string[];
          sourcesContent?: (string | null)[];
        };
        return map.sources
          .filter((source, i) => source.startsWith('/') || map.sourcesContent?.[i] == null)
          .map((source) => `${file} -> ${source}`);
      });
    expect(unembedded).toEqual([]);
  });

  it(
    'the declarations type-check without any peer (skipLibCheck false; nodenext, bundler, and node10 for CommonJS)',
    async () => {
      writeFileSync(
        join(app, 'types.mts'),
        `import { Admission, AdmissionError, createBackend, type AdmissionOptions } from 'voice-admission';
       import { startPrometheus, setupTracing, type PrometheusEndpoint, type Tracing, type TracingOptions } from 'voice-admission/telemetry';
       const backend = await createBackend('simulated');
       const options: AdmissionOptions = { maxConcurrentSessions: 1 };
       export const admission: Admission = new Admission(backend, options);
       export const helpers: [() => Promise<PrometheusEndpoint>, (options: TracingOptions) => Promise<Tracing>] = [() => startPrometheus(), setupTracing];
       export const isRefusal = (e: unknown): boolean => e instanceof AdmissionError;`,
      );
      writeFileSync(
        join(app, 'types.cts'),
        `import va = require('voice-admission');
       import telemetry = require('voice-admission/telemetry');
       void [va.createBackend, va.Admission, telemetry.startPrometheus, telemetry.setupTracing];`,
      );
      expect(await typeCheckBoth(app, ['types.mts', 'types.cts'])).toEqual(CLEAN);
      // Without `exports`, the subpaths resolve through typesVersions.
      expect(await typeCheck(app, 'node10', ['types.cts'])).toBe('');
    },
    HUNG_AFTER_MS,
  );
});

describe('an install with npm --legacy-peer-deps (no peers installed), as the README gives it', () => {
  let app: string;
  beforeAll(async () => {
    app = await project('noPeers');
  }, 180_000);

  it('admits, and loads every entry point, in both module systems', async () => {
    const imports = `import { createBackend, createSessionWithLimit, AdmissionError } from 'voice-admission';
import { startPrometheus } from 'voice-admission/telemetry';
import { admitAgentJobs } from 'voice-admission/livekit-agents';`;
    for (const result of await runBoth(app, 'no-peers', imports, FLOW)) {
      expect(result.stderr).toBe('');
      expect(JSON.parse(result.stdout)).toEqual({ room: true, code: 'capacity', isError: true });
    }
  }, 60_000);
});

describe('the Prometheus helper with exactly the peers docs/autoscaling.md names', () => {
  let app: string;
  beforeAll(async () => {
    app = await project('prometheus');
  }, 180_000);

  it('serves the admission metrics with a service.name, in both module systems', async () => {
    const imports = `import { Admission, createBackend } from 'voice-admission';
import { startPrometheus } from 'voice-admission/telemetry';`;
    const body = `
      const prometheus = await startPrometheus({ port: 0, host: '127.0.0.1', serviceName: 'consumer' });
      const backend = await createBackend('simulated', { providerConfig: { setupLatencyMs: 1 } });
      await backend.start();
      const admission = new Admission(backend, { maxConcurrentSessions: 2, health: false });
      const session = await admission.createSession({ userId: 'u', tenantId: 'acme' });
      const text = await (await fetch(prometheus.url)).text();
      await session.close();
      await admission.drain({ timeoutMs: 1000 });
      await backend.stop();
      await prometheus.stop();
      console.log(JSON.stringify(text.split('\\n').filter((line) => /^(voice_backend_active_sessions|target_info)\\{/.test(line))));`;
    for (const result of await runBoth(app, 'prometheus', imports, body)) {
      expect(result.stderr).toBe('');
      const lines = JSON.parse(result.stdout) as string[];
      expect(lines.find((l) => l.startsWith('target_info'))).toContain('service_name="consumer"');
      expect(lines.find((l) => l.startsWith('voice_backend_active_sessions'))).toMatch(/ 1$/);
    }
  }, 60_000);
});

describe('the tracing helper with exactly the peers docs/autoscaling.md names', () => {
  let app: string;
  beforeAll(async () => {
    app = await project('tracing');
  }, 180_000);

  it('exports the admission span with a service.name, in both module systems', async () => {
    const imports = `import { createBackend, createSessionWithLimit } from 'voice-admission';
import { setupTracing } from 'voice-admission/telemetry';
import { InMemorySpanExporter } from '@opentelemetry/sdk-trace-node';`;
    const body = `
      const exporter = new InMemorySpanExporter();
      const tracing = await setupTracing({ exporter, immediate: true, serviceName: 'consumer' });
      const backend = await createBackend('simulated', { providerConfig: { setupLatencyMs: 1 } });
      await backend.start();
      const session = await createSessionWithLimit(backend, { userId: 'u' }, 1);
      await session.close();
      await backend.stop();
      // Read before shutdown: shutting down the in-memory exporter empties it.
      const spans = exporter.getFinishedSpans().map((s) => [s.name, s.resource.attributes['service.name']]);
      await tracing.shutdown();
      console.log(JSON.stringify(spans));`;
    for (const result of await runBoth(app, 'tracing', imports, body)) {
      expect(result.stderr).toBe('');
      expect(JSON.parse(result.stdout)).toContainEqual(['create_session_with_limit', 'consumer']);
    }
  }, 60_000);
});

describe('the README and docs examples, with exactly the packages they import or name', () => {
  let app: string;
  let examples: string[];
  beforeAll(async () => {
    app = await project('examples');
    examples = writeExamples(app, markdowns);
  }, 180_000);

  it(
    'type-check in the application (skipLibCheck false, nodenext and bundler)',
    async () => {
      expect(examples.length).toBeGreaterThan(markdowns.length);
      expect(await typeCheckBoth(app, examples)).toEqual(CLEAN);
    },
    HUNG_AFTER_MS,
  );
});

describe('the gateway image of docs/gateway.md, with exactly the packages its Dockerfile installs', () => {
  let app: string;
  let redis: RedisServer;
  beforeAll(async () => {
    [app, redis] = await Promise.all([project('image'), startRedis()]);
  }, 180_000);
  afterAll(async () => {
    await redis?.stop();
  });

  it('admits with the Redis store and the metrics port its Deployment sets', async () => {
    const { deployment } = gatewayImage();
    for (const name of ['REDIS_URL', 'METRICS_PORT']) expect(deployment).toContain(`name: ${name}`);
    redis.seedLimiter('voice-admission'); // serve's default REDIS_NAME, as a Redis long in service
    // The image's ENTRYPOINT.
    const child = spawn(
      process.execPath,
      ['node_modules/voice-admission/dist/cli/main.js', 'serve'],
      {
        cwd: app,
        stdio: ['ignore', 'pipe', 'pipe'],
        env: {
          PATH: process.env.PATH ?? '',
          HOST: '127.0.0.1',
          PORT: '0',
          METRICS_PORT: '0',
          REDIS_URL: redis.url,
        },
      },
    );
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const started = await new Promise<{ url?: string; store?: string; metrics?: string }>(
      (resolve) => {
        child.stdout.on('data', (chunk: Buffer) => {
          const line = chunk
            .toString()
            .split('\n')
            .find((l) => l.includes('"listening"'));
          if (line !== undefined) resolve(JSON.parse(line) as { url: string });
        });
        child.once('exit', () => resolve({}));
      },
    );
    const created =
      started.url === undefined
        ? undefined
        : await fetch(`${started.url}/v1/sessions`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: '{"userId":"u"}',
          });
    if (child.exitCode === null) {
      child.kill('SIGTERM');
      await once(child, 'exit');
    }
    expect({ ...started, stderr }).toMatchObject({
      store: 'redis',
      metrics: expect.stringMatching(/^http:/),
      stderr: '',
    });
    expect(created?.status).toBe(201);
  }, 60_000);
});
