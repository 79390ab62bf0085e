import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ACME_TOKEN, startGateway, TOKENS } from './gateway-harness.js';

const run = promisify(execFile);

/** The first Python block of docs/gateway.md: the slot client workers copy. */
function documentedClient(): string {
  const markdown = readFileSync(new URL('../../docs/gateway.md', import.meta.url), 'utf8');
  const block = /```python\n([\s\S]*?)```/.exec(markdown)?.[1];
  if (block === undefined) throw new Error('docs/gateway.md has no python block');
  return block;
}

/** Runs a script of test/cli/python with only the standard library and the documented client. */
async function runWithClient(script: string, args: string[]): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(join(tmpdir(), 'slot-client-'));
  writeFileSync(join(dir, 'admission_slots.py'), documentedClient());
  const path = new URL(`./python/${script}`, import.meta.url).pathname;
  const { stdout } = await run('python3', ['-s', path, ...args], {
    env: { PATH: process.env.PATH ?? '', PYTHONPATH: dir },
  });
  return JSON.parse(stdout) as Record<string, unknown>;
}

/** How the proxy spoils a renewal: what an ingress in front of a restarting gateway answers. */
type Fault = 'bad_gateway_page' | 'cut_short' | 'stall' | 'pass';

/**
 * A proxy in front of the gateway that spoils renewals in turn, as `faults` says (then passes
 * them), and passes everything else. Returns its URL and how to close it.
 */
async function startFaultyProxy(target: string, faults: Fault[]) {
  const forward = async (request: IncomingMessage) => {
    const chunks: Buffer[] = [];
    for await (const chunk of request) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    return fetch(`${target}${request.url}`, {
      method: request.method ?? 'GET',
      headers: {
        authorization: request.headers.authorization ?? '',
        ...(body.length > 0 ? { 'content-type': 'application/json' } : {}),
      },
      ...(body.length > 0 ? { body } : {}),
    });
  };
  const answer = async (request: IncomingMessage, response: ServerResponse, fault: Fault) => {
    if (fault === 'stall') return;
    if (fault === 'bad_gateway_page') {
      response.writeHead(502, { 'content-type': 'text/html' }).end('<html>Bad Gateway</html>');
      return;
    }
    const forwarded = await forward(request);
    const text = await forwarded.text();
    response.writeHead(forwarded.status, {
      'content-type': 'application/json',
      'content-length': Buffer.byteLength(text),
    });
    if (fault === 'cut_short') response.write(text.slice(0, 5), () => response.destroy());
    else response.end(text);
  };
  const server = createServer((request, response) => {
    const fault = request.url?.endsWith('/renew') ? (faults.shift() ?? 'pass') : 'pass';
    answer(request, response, fault).catch(() => response.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${address.port}`,
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('a Python agent worker (standard library only) against a real gateway', () => {
  it('takes a slot per job, is refused a job another worker holds, keeps it by renewing, releases it', async () => {
    const { url, admission } = await startGateway({
      tokens: TOKENS,
      // A queue that would hold a request past the 10 s LiveKit gives a worker to answer an
      // offer: the client bounds its own wait.
      admission: { maxConcurrentSessions: 2, queue: { maxSize: 10, timeoutMs: 60_000 } },
    });
    const steps = await runWithClient('slot_flow.py', [url, ACME_TOKEN]);
    expect(steps).toMatchObject({
      same_job_elsewhere: { status: 409, code: 'duplicate', retry_after: null },
      renewals: 4,
      lost: false,
      still_held_after_lease: { status: 409, code: 'duplicate' },
      refused_renewals: 0,
      when_full: { status: 429, code: 'queue_timeout' },
      after_release: { status: 201 },
    });
    expect((steps.when_full as { retry_after: number }).retry_after).toBeGreaterThanOrEqual(1);
    // Refused within the documented wait, well before LiveKit offers the job elsewhere.
    expect(steps.when_full_after_s).toBeGreaterThanOrEqual(4.5);
    expect(steps.when_full_after_s).toBeLessThan(7);
    expect(admission.stats().active).toBe(0);
  }, 60_000);

  it('keeps renewing through answers the gateway never gave: an error page, a cut-short body, a stall', async () => {
    const { url, admission } = await startGateway({
      tokens: TOKENS,
      admission: { maxConcurrentSessions: 2, queue: { maxSize: 0 } },
    });
    const faults: Fault[] = ['bad_gateway_page', 'pass', 'cut_short', 'pass', 'stall'];
    const proxy = await startFaultyProxy(url, faults);
    try {
      const steps = await runWithClient('heartbeat_faults.py', [proxy.url, url, ACME_TOKEN]);
      expect(steps).toMatchObject({ lost: false, heartbeat_errors: [], still_held: true });
      expect(steps.renewals).toBeGreaterThanOrEqual(6);
      expect(faults).toEqual([]);
    } finally {
      await proxy.close();
    }
    expect(admission.stats().active).toBe(0);
  }, 60_000);
});
