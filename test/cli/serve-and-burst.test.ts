import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, mkdtempSync, openSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer } from 'node:http';
import { type AddressInfo, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { formatBurstReport, parseBurstConfig, runBurst } from '../../src/cli/burst.js';
import { ACME_TOKEN, exitCode, LogLines, TOKENS } from './gateway-harness.js';

const run = promisify(execFile);
const cli = new URL('../../src/cli/main.ts', import.meta.url).pathname;
const warnOnSignal = new URL('./support/warn-on-signal.mjs', import.meta.url).pathname;
/** An environment without the variables serve reads, so the machine's own cannot leak in. */
const CLEAN_ENV = Object.fromEntries(
  Object.entries(process.env).filter(
    ([name]) => !/^(AUTH_TOKENS|LIVEKIT_|METRICS|PORT|HOST|LOG_LEVEL|GATEWAY_TOKEN)/.test(name),
  ),
);

/** LiveKit settings that pass, with a secret the output must never show. */
const LIVEKIT_ENV = {
  LIVEKIT_URL: 'ws://127.0.0.1:7880',
  LIVEKIT_API_KEY: 'key',
  LIVEKIT_API_SECRET: 'abcdefghijklmnopqrstuvwxyz',
};

interface Served {
  readonly child: ChildProcess;
  readonly url: string;
  readonly lines: Record<string, unknown>[];
  readonly logs: LogLines;
  /** What it wrote to stderr so far. */
  readonly stderr: () => string;
}

/** `voice-admission serve` in a child process (`nodeArgs` go to node); resolves once it listens. */
async function startServe(
  args: string[],
  env: Record<string, string> = {},
  nodeArgs: string[] = [],
): Promise<Served> {
  const child = spawn(
    process.execPath,
    [...nodeArgs, '--import', 'tsx', cli, 'serve', '--port', '0', '--host', '127.0.0.1', ...args],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...CLEAN_ENV, ...env } },
  );
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const logs = new LogLines();
  const url = await new Promise<string>((resolve, reject) => {
    let buffered = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const parts = buffered.split('\n');
      buffered = parts.pop()!;
      for (const text of parts) {
        logs.write(text);
        const line = logs.lines.at(-1)!;
        if (line.msg === 'listening') resolve(line.url as string);
      }
    });
    child.once('exit', (code) => reject(new Error(`serve exited with ${code}: ${stderr}`)));
  });
  return { child, url, lines: logs.lines, logs, stderr: () => stderr };
}

/**
 * Runs the CLI to completion; resolves with its exit code and output (never rejects). A run
 * that does not end (a command that should have exited starts serving) is killed before the
 * test's own timeout, so it cannot outlive the test.
 */
async function cliRun(args: string[], env: Record<string, string> = {}) {
  try {
    const { stdout, stderr } = await run(process.execPath, ['--import', 'tsx', cli, ...args], {
      env: { ...CLEAN_ENV, ...env },
      timeout: 20_000,
      killSignal: 'SIGKILL',
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

const createSession = (url: string, userId: string, token?: string) =>
  fetch(`${url}/v1/sessions`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
    },
    body: JSON.stringify({ userId }),
  });

describe('voice-admission serve', () => {
  it('drains on SIGTERM with sessions open: not ready, refuses new ones, closes the rest at the deadline, exits 0', async () => {
    const { child, url, lines } = await startServe([
      '--max-sessions',
      '5',
      '--drain-timeout-ms',
      '1500',
    ]);
    for (const user of ['a', 'b', 'c']) expect((await createSession(url, user)).status).toBe(201);
    child.kill('SIGTERM');
    // During the drain the process still answers, but is not ready and admits no one.
    let readyz = 200;
    for (let i = 0; i < 50 && readyz === 200; i++) readyz = (await fetch(`${url}/readyz`)).status;
    expect(readyz).toBe(503);
    const refused = await createSession(url, 'late');
    expect(refused.status).toBe(503);
    expect(await refused.json()).toMatchObject({ error: { code: 'draining' } });
    expect(await exitCode(child)).toBe(0);
    // The operator hears of the drain when it starts, not only once it is over.
    const draining = lines.findIndex((line) => line.msg === 'draining');
    expect(lines[draining]).toMatchObject({ level: 'info', active: 3, queued: 0, timeoutMs: 1500 });
    const drained = lines.findIndex((line) => line.msg === 'drained');
    expect(drained).toBeGreaterThan(draining);
    expect(lines[drained]).toMatchObject({
      level: 'info',
      timedOut: true,
      activeAtStart: 3,
      closedAtDeadline: 3,
      stillActive: 0,
    });
  }, 60_000);

  it('keeps serving when the reader of its log leaves (EPIPE), and still drains and exits 0', async () => {
    const { child, url } = await startServe(['--drain-timeout-ms', '0']);
    child.stdout!.destroy();
    for (const user of ['a', 'b', 'c']) expect((await createSession(url, user)).status).toBe(201);
    child.kill('SIGTERM');
    expect(await exitCode(child)).toBe(0);
  }, 60_000);

  it('a second signal during the drain exits 130 at once, saying in its log that the drain was abandoned', async () => {
    const { child, url, logs } = await startServe(['--drain-timeout-ms', '60000']);
    expect((await createSession(url, 'a')).status).toBe(201);
    child.kill('SIGTERM');
    await logs.seen((line) => line.msg === 'draining');
    child.kill('SIGINT');
    expect(await exitCode(child)).toBe(130);
    const abandoned = logs.lines.filter((line) => line.msg === 'drain abandoned: exiting at once');
    expect(abandoned).toEqual([
      expect.objectContaining({ level: 'warn', signal: 'SIGINT', active: 1, queued: 0 }),
    ]);
    expect(logs.lines.some((line) => line.msg === 'drained')).toBe(false);
  }, 60_000);

  it('drains on SIGHUP as on SIGTERM, rather than dying with its sessions open', async () => {
    const { child, url, lines } = await startServe(['--drain-timeout-ms', '200']);
    expect((await createSession(url, 'a')).status).toBe(201);
    child.kill('SIGHUP');
    expect(await exitCode(child)).toBe(0);
    expect(lines.find((line) => line.msg === 'drained')).toMatchObject({
      activeAtStart: 1,
      closedAtDeadline: 1,
    });
  }, 60_000);

  it('logs its start as JSON with time and level, naming the backend and that it runs open', async () => {
    const { child, lines } = await startServe(['--log-level', 'info', '--drain-timeout-ms', '0']);
    try {
      const listening = lines.find((line) => line.msg === 'listening');
      expect(listening).toMatchObject({
        level: 'info',
        backend: 'simulated',
        store: 'memory',
        auth: 'open',
      });
      expect(Date.parse(listening!.time as string)).not.toBeNaN();
      expect(lines.find((line) => line.level === 'warn')?.msg).toMatch(/no AUTH_TOKENS/);
    } finally {
      child.kill('SIGTERM');
      await exitCode(child);
    }
  }, 60_000);

  it("logs process warnings as JSON lines at warn, in place of Node's print on stderr", async () => {
    const { child, logs, stderr } = await startServe(['--drain-timeout-ms', '0'], {}, [
      '--import',
      warnOnSignal,
    ]);
    try {
      child.kill('SIGUSR2');
      const isWarning = (name: string) => (line: Record<string, unknown>) =>
        (line.warning as { name?: unknown } | undefined)?.name === name;
      for (const name of [
        'DeprecationWarning',
        'VoiceAdmissionLiveKitWarning',
        'VoiceAdmissionStoreWarning',
      ]) {
        await logs.seen(isWarning(name));
      }
      await logs.seen(isWarning('MaxListenersExceededWarning'));
      const warnings = logs.lines.filter((line) => line.msg === 'process warning');
      expect(warnings).toHaveLength(4);
      expect(warnings[0]).toMatchObject({
        level: 'warn',
        warning: {
          name: 'DeprecationWarning',
          code: 'DEP_EXAMPLE',
          message: 'old API',
          detail: 'use the new one',
        },
      });
      // Credentials quoted by a warning or its cause are not written.
      expect(warnings[1]).toMatchObject({
        warning: {
          name: 'VoiceAdmissionLiveKitWarning',
          message: 'join failed: timeout (wss://[redacted]@lk.example)',
        },
      });
      expect(warnings[1]!.warning).not.toHaveProperty('cause');
      // The failure behind it, its message cut to a bounded start.
      const kept = 'ERR token [redacted] ';
      expect(warnings[2]).toMatchObject({
        warning: {
          name: 'VoiceAdmissionStoreWarning',
          message: 'renewal failed',
          cause: { name: 'ReplyError', message: `${kept}${'x'.repeat(500 - kept.length)}…` },
        },
      });
      expect(logs.text).not.toContain('lk-secret-0123456789');
      expect(logs.text).not.toContain('eyJhbGciOiJIUzI1NiJ9');
    } finally {
      child.kill('SIGTERM');
      await exitCode(child);
    }
    expect(stderr()).toBe('');
  }, 60_000);

  it("leaves Node's warning output as the operator set it with Node's own flags", async () => {
    for (const [nodeArgs, env, printed] of [
      [['--no-warnings'], {}, []],
      [[], { NODE_NO_WARNINGS: '1' }, []],
      [
        ['--disable-warning=DEP_EXAMPLE'],
        {},
        ['VoiceAdmissionLiveKitWarning', 'VoiceAdmissionStoreWarning', 'MaxListeners'],
      ],
    ] as const) {
      const { child, lines, stderr } = await startServe(['--drain-timeout-ms', '0'], env, [
        ...nodeArgs,
        '--import',
        warnOnSignal,
      ]);
      child.kill('SIGUSR2');
      await new Promise((resolve) => setTimeout(resolve, 500));
      child.kill('SIGTERM');
      await exitCode(child);
      expect(lines.filter((line) => line.msg === 'process warning')).toEqual([]);
      expect(stderr().match(/^\(node:\d+\) .*$/gm) ?? [], nodeArgs.join(' ')).toHaveLength(
        printed.length,
      );
      for (const name of printed) expect(stderr()).toContain(name);
    }
  }, 60_000);

  it('takes tokens from AUTH_TOKENS_FILE and requires them', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'serve-tokens-'));
    const file = join(dir, 'tokens.json');
    writeFileSync(file, TOKENS);
    const { child, url, lines } = await startServe(['--drain-timeout-ms', '0'], {
      AUTH_TOKENS_FILE: file,
    });
    try {
      expect(lines.find((line) => line.msg === 'listening')).toMatchObject({
        auth: 'bearer tokens',
      });
      expect((await createSession(url, 'u')).status).toBe(401);
      const created = await createSession(url, 'u', ACME_TOKEN);
      expect(created.status).toBe(201);
      expect(await created.json()).toMatchObject({ tenantId: 'acme' });
    } finally {
      child.kill('SIGTERM');
      await exitCode(child);
    }
    expect(JSON.stringify(lines)).not.toContain(ACME_TOKEN);
  }, 60_000);

  it.each([
    [['--host', '0.0.0.0'], {}, /AUTH_TOKENS: is required to listen on 0\.0\.0\.0/],
    [['--port', '70000'], {}, /--port: must be an integer from 0 to 65535, got "70000"/],
    [['--max-sessions', '-1'], {}, /--max-sessions: must be an integer >= 1, got "-1"/],
    [['--max-sessions', 'lots'], {}, /--max-sessions: must be an integer >= 1, got "lots"/],
    [['--colour', 'red'], {}, /Unknown option '--colour'/],
    [['--max-sessions', '5', '--max-sessions', '50'], {}, /^--max-sessions is given twice/],
    [['--log-level', 'loud'], {}, /--log-level: must be one of/],
    [
      [],
      { METRICS: '0', METRICS_PORT: '9464' },
      /^METRICS: is "0" \(metrics off\) but --metrics-port \/ METRICS_PORT is set/,
    ],
    [
      ['--redis-url', 'http://user:abcdefghijklmnopqrstuvwxyz@127.0.0.1:6379'],
      {},
      /^--redis-url: must be a redis:\/\/ or rediss:\/\/ URL, got "http:\/\/\[redacted\]@127\.0\.0\.1:6379"$/,
    ],
    [
      [],
      { REDIS_URL: 'redis://:abcdefghijklmnopqrstuvwxyz@127.0.0.1:99999' },
      /^REDIS_URL: must be a redis:\/\/ or rediss:\/\/ URL, got "redis:\/\/\[redacted\]@127\.0\.0\.1:99999"$/,
    ],
    [
      [],
      { LIVEKIT_URL: 'ws://127.0.0.1:7880', LIVEKIT_API_KEY: 'key' },
      /LIVEKIT_API_SECRET: must be set as well to use LiveKit/,
    ],
    [
      [],
      { ...LIVEKIT_ENV, LIVEKIT_URL: '127.0.0.1:7880' },
      /^LIVEKIT_URL: must be a ws:\/\/, wss:\/\/, http:\/\/ or https:\/\/ URL, got "127\.0\.0\.1:7880"$/,
    ],
    [
      [],
      { ...LIVEKIT_ENV, LIVEKIT_URL: 'wss://key:abcdefghijklmnopqrstuvwxyz@127.0.0.1:7880' },
      /^LIVEKIT_URL: must not carry credentials/,
    ],
    [[], { AUTH_TOKENS: '{"short": "acme"}' }, /AUTH_TOKENS entry 1: token must be at least 16/],
    [[], { AUTH_TOKENS: '{"abcdefghijklmnopqrstuvwxyz' }, /AUTH_TOKENS: is not valid JSON/],
    [
      [],
      { AUTH_TOKENS: '{"abcdefghijklmnopqrstuvwxyz": "a", "abcdefghijklmnopqrstuvwxyz": "*"}' },
      /AUTH_TOKENS entry 2: token repeats entry 1/,
    ],
  ])(
    'refuses to start on %j %j: one line naming the problem, the usage, exit 2',
    async (args, env, message) => {
      // HOST is cleared: the gateway would listen on 127.0.0.1 unless a case names a host.
      const { code, stdout, stderr } = await cliRun(['serve', ...args], env);
      expect(code).toBe(2);
      expect(stdout).toBe('');
      const [first] = stderr.split('\n');
      expect(first).toMatch(message);
      expect(stderr).toContain('voice-admission serve [options]');
      expect(stderr).not.toMatch(/\n\s+at /); // no stack trace
      expect(stderr).not.toContain('abcdefghijklmnopqrstuvwxyz');
    },
  );
});

describe('a failed start', () => {
  it('closes what it opened and exits 1 with one line (port in use, metrics on their own port)', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = String((taken.address() as AddressInfo).port);
    try {
      const { code, stderr } = await cliRun([
        ...['serve', '--host', '127.0.0.1', '--port', port, '--metrics-port', '0'],
      ]);
      expect(code).toBe(1);
      expect(stderr).toMatch(/^voice-admission: .*EADDRINUSE.*\n$/);
    } finally {
      taken.close();
    }
  }, 60_000);
});

describe('the command line', () => {
  it('prints help for no arguments, help, --help and -h; the version for --version, -v and version', async () => {
    for (const args of [[], ['help'], ['--help'], ['-h'], ['help', 'help'], ['help', 'version']]) {
      const { code, stdout } = await cliRun(args);
      expect(code).toBe(0);
      expect(stdout).toMatch(/^voice-admission <command> \[options\]/);
    }
    const { version } = (await import('../../package.json', { with: { type: 'json' } }))
      .default as { version: string };
    for (const args of [['--version'], ['-v'], ['version']]) {
      expect(await cliRun(args)).toMatchObject({ code: 0, stdout: `${version}\n` });
    }
    expect((await cliRun(['help', 'burst'])).stdout).toMatch(/^voice-admission burst --url/);
    expect((await cliRun(['serve', '--help'])).stdout).toMatch(/^voice-admission serve/);
    expect((await cliRun(['help', 'serve', '-h'])).stdout).toMatch(/^voice-admission serve/);
  }, 60_000);

  it('takes the word help after a command for an option value, not for a request for help', async () => {
    const demo = await cliRun(['demo', '--requests', 'help']);
    expect({ code: demo.code, stdout: demo.stdout }).toEqual({ code: 2, stdout: '' });
    expect(demo.stderr.split('\n')[0]).toBe(
      '--requests: must be an integer from 1 to 10000, got "help"',
    );
    const burst = await cliRun([
      'burst',
      '--url',
      'http://127.0.0.1:1',
      '--n',
      '1',
      '--tenants',
      'help',
      '--json',
    ]);
    expect(burst.code).toBe(1);
    expect(JSON.parse(burst.stdout)).toMatchObject({ requests: 1, created: 0 });
  }, 60_000);

  it('reports stdout it cannot write to (a full disk) in one line and exits 1', async () => {
    for (const args of [['openapi'], ['demo', '--requests', '10'], ['serve', '--port', '0']]) {
      const full = openSync('/dev/full', 'w');
      const child = spawn(process.execPath, ['--import', 'tsx', cli, ...args], {
        stdio: ['ignore', full, 'pipe'],
        env: CLEAN_ENV,
      });
      closeSync(full);
      let stderr = '';
      child.stderr!.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
      });
      // A command that hangs instead is killed, so the test fails rather than waits.
      const hung = setTimeout(() => child.kill('SIGKILL'), 15_000);
      expect(await exitCode(child), args[0]).toBe(1);
      clearTimeout(hung);
      expect(stderr).toBe(
        'voice-admission: cannot write to stdout: ENOSPC: no space left on device, write (ENOSPC)\n',
      );
    }
  }, 60_000);

  it('bounds the demo burst: a count past the bound is refused at once, not run out of memory', async () => {
    for (const count of ['10001', '1000000000']) {
      const { code, stdout, stderr } = await cliRun(['demo', '--requests', count]);
      expect({ code, stdout }).toEqual({ code: 2, stdout: '' });
      expect(stderr.split('\n')[0]).toBe(
        `--requests: must be an integer from 1 to 10000, got "${count}"`,
      );
    }
  }, 60_000);

  it('refuses an unknown command with exit 2', async () => {
    const { code, stderr } = await cliRun(['launch']);
    expect(code).toBe(2);
    expect(stderr).toMatch(/^unknown command "launch"/);
  });

  it('takes the names of object properties for unknown commands, not for commands', async () => {
    for (const name of ['toString', '__proto__', 'constructor']) {
      const { code, stderr } = await cliRun([name]);
      expect(code, name).toBe(2);
      expect(stderr).toMatch(new RegExp(`^unknown command "${name}"`));
    }
    const help = await cliRun(['help', 'hasOwnProperty']);
    expect(help.code).toBe(2);
    expect(help.stderr).toMatch(/^unknown command "hasOwnProperty"\n/);
  }, 60_000);

  it('refuses help for an unknown command, and arguments after the version or the command, with exit 2', async () => {
    const help = await cliRun(['help', 'launch']);
    expect(help).toMatchObject({ code: 2, stdout: '' });
    expect(help.stderr).toMatch(/^unknown command "launch"\n\nvoice-admission <command>/);
    for (const [args, unexpected] of [
      [['--version', '--json'], '--json'],
      [['version', 'serve'], 'serve'],
      [['help', 'serve', 'extra'], 'extra'],
      [['--help', 'burst', '--help', '--json'], '--json'],
    ] as const) {
      const refused = await cliRun([...args]);
      expect(refused, args.join(' ')).toMatchObject({ code: 2, stdout: '' });
      expect(refused.stderr.split('\n')[0]).toBe(`unexpected argument "${unexpected}"`);
    }
  }, 60_000);
});

describe('voice-admission burst against the gateway', () => {
  it('reports status codes, refusals by reason and latency percentiles, also as JSON', async () => {
    const { child, url } = await startServe([
      '--max-sessions',
      '5',
      '--queue-size',
      '0',
      '--drain-timeout-ms',
      '100',
    ]);
    try {
      const args = ['burst', '--url', url, '--n', '20', '--concurrency', '20', '--tenants', 'a,b'];
      const { code, stdout } = await cliRun(args);
      expect(code).toBe(0);
      expect(stdout).toMatch(/sessions created\s+5/);
      expect(stdout).toMatch(/status codes\s+201 5, 429 15/);
      expect(stdout).toMatch(/refusals by reason\s+capacity 15/);
      expect(stdout).toMatch(/latency p50 \/ p90 \/ p99\s+\S+/);
      const json = await cliRun([...args, '--json']);
      const report = JSON.parse(json.stdout) as { latencyMs: Record<string, number> };
      expect(report).toMatchObject({
        requests: 20,
        created: 0, // the first burst's sessions still hold every slot
        statuses: { '429': 20 },
        refusals: { capacity: 20 },
      });
      expect(Object.keys(report.latencyMs)).toEqual(['p50', 'p90', 'p99']);
      expect(report.latencyMs.p99).toBeGreaterThanOrEqual(report.latencyMs.p50!);
    } finally {
      child.kill('SIGINT');
      await exitCode(child);
    }
  }, 60_000);

  it('authenticates with GATEWAY_TOKEN; without one every request is refused 401, and it exits 1 saying so', async () => {
    const { child, url } = await startServe(['--drain-timeout-ms', '0'], { AUTH_TOKENS: TOKENS });
    try {
      const args = ['burst', '--url', url, '--n', '2', '--json'];
      const without = await cliRun(args);
      expect(JSON.parse(without.stdout)).toMatchObject({ statuses: { '401': 2 } });
      expect(without.code).toBe(1);
      expect(without.stderr).toBe(
        "voice-admission: 2 of 2 requests were refused 401: set GATEWAY_TOKEN to one of the gateway's tokens\n",
      );
      const withToken = await cliRun(args, { GATEWAY_TOKEN: ACME_TOKEN });
      expect(JSON.parse(withToken.stdout)).toMatchObject({ created: 2, statuses: { '201': 2 } });
      expect(withToken.code).toBe(0);
      // A token that may not act for one of the tenants: half the load was never sent.
      const otherTenant = await cliRun([...args, '--tenants', 'acme,globex'], {
        GATEWAY_TOKEN: ACME_TOKEN,
      });
      expect(JSON.parse(otherTenant.stdout)).toMatchObject({ statuses: { '201': 1, '403': 1 } });
      expect(otherTenant.code).toBe(1);
      expect(otherTenant.stderr).toBe(
        'voice-admission: 1 of 2 requests were refused 403: check that GATEWAY_TOKEN may act for every tenant of --tenants\n',
      );
    } finally {
      child.kill('SIGTERM');
      await exitCode(child);
    }
  }, 60_000);

  it('exits 1 when --url is not the gateway base URL (every request 404), 0 when the gateway refuses for load (429, 503)', async () => {
    const { child, url } = await startServe([
      ...['--max-sessions', '1', '--queue-size', '0', '--drain-timeout-ms', '5000'],
    ]);
    try {
      const wrong = await cliRun(['burst', '--url', `${url}/v1`, '--n', '3', '--json']);
      expect(JSON.parse(wrong.stdout)).toMatchObject({ statuses: { '404': 3 } });
      expect(wrong.code).toBe(1);
      expect(wrong.stderr).toBe(
        "voice-admission: 3 of 3 requests were refused 404: check --url, the gateway's base URL (without /v1)\n",
      );
      // The cap full: every request refused 429, which is the gateway doing its job.
      expect((await createSession(url, 'holder')).status).toBe(201);
      const full = await cliRun(['burst', '--url', url, '--n', '3', '--json']);
      expect(JSON.parse(full.stdout)).toMatchObject({ statuses: { '429': 3 } });
      expect(full).toMatchObject({ code: 0, stderr: '' });
      // Draining: every request refused 503.
      child.kill('SIGTERM');
      while ((await fetch(`${url}/readyz`)).status !== 503) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      const draining = await cliRun(['burst', '--url', url, '--n', '3', '--json']);
      expect(JSON.parse(draining.stdout)).toMatchObject({ statuses: { '503': 3 } });
      expect(draining).toMatchObject({ code: 0, stderr: '' });
    } finally {
      child.kill('SIGTERM');
      await exitCode(child);
    }
  }, 60_000);

  it('exits 1 when nothing could be reached', async () => {
    // A port that was just free: nothing listens there.
    const { child, url } = await startServe([]);
    child.kill('SIGTERM');
    await exitCode(child);
    const { code, stdout, stderr } = await cliRun(['burst', '--url', url, '--n', '3', '--json']);
    expect(code).toBe(1);
    expect(JSON.parse(stdout)).toMatchObject({ statuses: { 'network error': 3 } });
    // One line, as every runtime failure of the CLI reports it.
    expect(stderr).toBe(`voice-admission: no request reached ${url}\n`);
  }, 60_000);

  it('paces requests with --rate and closes sessions after --hold-ms, so all fit under the cap', async () => {
    const { child, url } = await startServe([
      '--max-sessions',
      '1',
      '--queue-size',
      '0',
      '--drain-timeout-ms',
      '100',
    ]);
    try {
      // One every 300 ms; each takes the simulated ~120 ms to set up and is closed 10 ms later:
      // one slot is enough for all.
      const report = await runBurst(
        parseBurstConfig(['--url', url, '--n', '6', '--rate', '3.33', '--hold-ms', '10']),
      );
      expect(report.statuses).toEqual({ '201': 6 });
      expect(report.created).toBe(6);
      // Counted also when no progress is asked for.
      expect(report.requests).toBe(6);
      // Name and value on each line, from the first: no header of blanks above them.
      const lines = formatBurstReport(report).split('\n');
      expect(lines[0]).toMatch(/^requests +6$/);
      expect(lines).toHaveLength(6);
      const ready = (await (await fetch(`${url}/readyz`)).json()) as { active: number };
      expect(ready.active).toBe(0);
    } finally {
      child.kill('SIGINT');
      await exitCode(child);
    }
  }, 60_000);

  it('holds many sessions and requests at once without warning on stderr', async () => {
    const { child, url } = await startServe(['--max-sessions', '20', '--drain-timeout-ms', '0']);
    try {
      const { code, stdout, stderr } = await cliRun([
        ...['burst', '--url', url, '--json'],
        ...['--n', '15', '--concurrency', '15', '--hold-ms', '100'],
      ]);
      expect({ code, stderr }).toEqual({ code: 0, stderr: '' });
      expect(JSON.parse(stdout)).toMatchObject({ created: 15 });
    } finally {
      child.kill('SIGTERM');
      await exitCode(child);
    }
  }, 60_000);

  it('on Ctrl-C stops sending, closes the sessions it holds at once, reports and exits 130', async () => {
    const { child: gateway, url, lines } = await startServe(['--drain-timeout-ms', '0']);
    try {
      const burst = spawn(
        process.execPath,
        [
          ...['--import', 'tsx', cli, 'burst', '--url', url, '--json'],
          ...['--n', '100', '--rate', '20', '--hold-ms', '600000'],
        ],
        { stdio: ['ignore', 'pipe', 'inherit'], env: CLEAN_ENV },
      );
      let stdout = '';
      burst.stdout!.on('data', (chunk: Buffer) => {
        stdout += chunk.toString();
      });
      const active = async () =>
        ((await (await fetch(`${url}/readyz`)).json()) as { active: number }).active;
      // Three sessions answered 201 (each access line is written once its answer went out).
      const answered = () =>
        lines.filter((line) => line.path === '/v1/sessions' && line.status === 201).length;
      while (answered() < 3) await new Promise((resolve) => setTimeout(resolve, 50));
      burst.kill('SIGINT');
      expect(await exitCode(burst)).toBe(130);
      const report = JSON.parse(stdout) as { requests: number; created: number };
      expect(report.requests).toBeLessThan(100);
      expect(report.created).toBeGreaterThanOrEqual(3);
      // Those held were closed before the exit, with those whose answer came after Ctrl-C.
      while ((await active()) > 0) await new Promise((resolve) => setTimeout(resolve, 50));
    } finally {
      gateway.kill('SIGTERM');
      await exitCode(gateway);
    }
  }, 60_000);

  it('on Ctrl-C against a gateway that never answers, cuts off the requests under way, reports them and exits 130', async () => {
    // Takes connections and reads them, never answers: a hung gateway.
    const sockets: Socket[] = [];
    const silent = createServer((socket) => {
      sockets.push(socket);
      socket.resume();
    });
    silent.listen(0, '127.0.0.1');
    await once(silent, 'listening');
    const { port } = silent.address() as AddressInfo;
    try {
      const burst = spawn(
        process.execPath,
        [
          ...['--import', 'tsx', cli, 'burst', '--json', '--n', '3'],
          ...['--url', `http://127.0.0.1:${port}`],
        ],
        { stdio: ['ignore', 'pipe', 'pipe'], env: CLEAN_ENV },
      );
      let stdout = '';
      burst.stdout!.on('data', (chunk: Buffer) => {
        stdout += chunk.toString();
      });
      while (sockets.length < 3) await new Promise((resolve) => setTimeout(resolve, 20));
      burst.kill('SIGINT');
      // A burst still waiting for the answers is killed, so the test fails rather than waits.
      const hung = setTimeout(() => burst.kill('SIGKILL'), 5_000);
      expect(await exitCode(burst)).toBe(130);
      clearTimeout(hung);
      expect(JSON.parse(stdout)).toMatchObject({
        requests: 3,
        created: 0,
        statuses: { interrupted: 3 },
      });
    } finally {
      for (const socket of sockets) socket.destroy();
      silent.close();
    }
  }, 60_000);

  it('on Ctrl-C, a session answered after the signal is still received and closed, not left held', async () => {
    // Answers a creation only when told, records the closes.
    let answer: (() => void) | undefined;
    const closed: string[] = [];
    const gateway = createHttpServer((request, response) => {
      if (request.method === 'DELETE') {
        closed.push(request.url!);
        response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
        return;
      }
      answer = () =>
        response.writeHead(201, { 'content-type': 'application/json' }).end('{"id":"s-1"}');
    });
    gateway.listen(0, '127.0.0.1');
    await once(gateway, 'listening');
    const { port } = gateway.address() as AddressInfo;
    try {
      const stop = new AbortController();
      const running = runBurst(
        parseBurstConfig(['--url', `http://127.0.0.1:${port}`, '--n', '1', '--hold-ms', '600000']),
        undefined,
        stop.signal,
      );
      while (answer === undefined) await new Promise((resolve) => setTimeout(resolve, 10));
      stop.abort();
      // The gateway's 201 is written after the signal: cut off, the session would be held by
      // nobody, and the gateway could not tell.
      answer();
      const report = await running;
      expect(report.statuses).toEqual({ '201': 1 });
      expect(report.created).toBe(1);
      expect(closed).toEqual(['/v1/sessions/s-1']);
    } finally {
      gateway.closeAllConnections();
      gateway.close();
    }
  });

  it('validates its flags', async () => {
    expect(() => parseBurstConfig([])).toThrow(/--url: is required/);
    expect(() => parseBurstConfig(['--url', 'notaurl'])).toThrow(
      /--url: must be an http:\/\/ or https:\/\/ URL, got "notaurl"/,
    );
    expect(() =>
      parseBurstConfig(['--url', 'http://x', '--rate', '5', '--concurrency', '2']),
    ).toThrow(/cannot be used together/);
    expect(() => parseBurstConfig(['--url', 'http://x', '--n', '0'])).toThrow(
      /--n: must be an integer from 1 to 100000/,
    );
    // Counts and durations as serve reads them: decimal digits, no fraction quietly cut.
    for (const [flag, text, range] of [
      ['--n', '2.5', 'from 1 to 100000'],
      ['--n', '0x10', 'from 1 to 100000'],
      ['--concurrency', '1e3', '>= 1'],
      ['--hold-ms', '1.5', 'from 0 to 2147483647'],
    ] as const) {
      expect(() => parseBurstConfig(['--url', 'http://x', flag, text])).toThrow(
        `${flag}: must be an integer ${range}, got ${JSON.stringify(text)}`,
      );
    }
    expect(() => parseBurstConfig(['--url', 'http://x', '--rate', '1e3'])).toThrow(
      '--rate: must be a decimal number >= 0.001, got "1e3"',
    );
    expect(parseBurstConfig(['--url', 'http://x', '--rate', '0.5']).rate).toBe(0.5);
    // Tenants as serve reads them: spaces around the commas are no part of a tenant id.
    expect(parseBurstConfig(['--url', 'http://x', '--tenants', ' a, b ']).tenants).toEqual([
      'a',
      'b',
    ]);
    expect(() => parseBurstConfig(['--url', 'http://x', '--tenants', 'a,,b'])).toThrow(
      '--tenants: has an empty entry (a comma too many), got "a,,b"',
    );
    const { code, stderr } = await cliRun(['burst', '--url', 'notaurl']);
    expect(code).toBe(2);
    expect(stderr.split('\n')[0]).toBe('--url: must be an http:// or https:// URL, got "notaurl"');
    expect(stderr).not.toMatch(/\n\s+at /);
  });

  it('bounds --n: a count past the bound is refused at once with exit 2, not run out of memory', async () => {
    for (const count of ['100001', '99999999999']) {
      const { code, stdout, stderr } = await cliRun([
        ...['burst', '--url', 'http://127.0.0.1:18080', '--n', count],
      ]);
      expect({ code, stdout }).toEqual({ code: 2, stdout: '' });
      expect(stderr.split('\n')[0]).toBe(
        `--n: must be an integer from 1 to 100000, got "${count}"`,
      );
      expect(stderr).toContain('at most 100000');
    }
  }, 60_000);

  it('refuses a --url with credentials, which fetch would refuse for every request, without showing them', async () => {
    for (const url of ['http://user:a-password-0123@127.0.0.1:1', 'ftp://user:a-password-0123@x']) {
      const { code, stdout, stderr } = await cliRun(['burst', '--url', url]);
      expect({ code, stdout }).toEqual({ code: 2, stdout: '' });
      expect(stderr.split('\n')[0]).toMatch(
        /^--url: must be an http:\/\/ or https:\/\/ URL.*, got "\w+:\/\/\[redacted\]@/,
      );
      expect(stderr).not.toContain('a-password-0123');
    }
  }, 60_000);
});
