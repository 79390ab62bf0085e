import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './free-port.js';

export interface PrometheusServer {
  readonly url: string;
  /** Runs an instant query; returns the values of the result vector. */
  query(promql: string): Promise<number[]>;
  stop(): Promise<void>;
}

/**
 * The user and password of a Prometheus started with `basicAuth`; the hash is bcrypt's of the
 * password (Prometheus' own documentation example), as its web configuration takes it.
 */
export const PROMETHEUS_USER = { name: 'admin', password: 'test' } as const;
const PASSWORD_BCRYPT = '$2b$12$hNf2lSsxfm0.i4a.1kVpSOVyBCfIB51VRjgBUyv6kdnyTlgWj81Ay';

/**
 * Starts the real prometheus binary on a free loopback port, scraping `target` every second;
 * with `basicAuth`, its API asks for PROMETHEUS_USER.
 */
export async function startPrometheusServer(
  target: URL,
  options: { basicAuth?: boolean } = {},
): Promise<PrometheusServer> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'va-prometheus-'));
  const config = join(dir, 'prometheus.yml');
  writeFileSync(
    config,
    [
      'global:',
      '  scrape_interval: 1s',
      '  evaluation_interval: 1s',
      'scrape_configs:',
      '  - job_name: voice-admission',
      `    metrics_path: ${target.pathname}`,
      '    static_configs:',
      `      - targets: ['${target.host}']`,
      '',
    ].join('\n'),
  );
  const web = join(dir, 'web.yml');
  writeFileSync(web, `basic_auth_users:\n  ${PROMETHEUS_USER.name}: ${PASSWORD_BCRYPT}\n`);
  const authorization = `Basic ${Buffer.from(`${PROMETHEUS_USER.name}:${PROMETHEUS_USER.password}`).toString('base64')}`;
  const headers: Record<string, string> = options.basicAuth ? { authorization } : {};
  const child: ChildProcess = spawn(
    'prometheus',
    [
      ...(options.basicAuth ? [`--web.config.file=${web}`] : []),
      `--config.file=${config}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const url = `http://127.0.0.1:${port}`;
  for (let attempt = 0; ; attempt++) {
    if (child.exitCode !== null) throw new Error(`prometheus exited: ${stderr}`);
    const ready = await fetch(`${url}/-/ready`, { headers }).then(
      (r) => r.ok,
      () => false,
    );
    if (ready) break;
    if (attempt > 300) throw new Error(`prometheus did not become ready: ${stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return {
    url,
    query: async (promql) => {
      const response = await fetch(`${url}/api/v1/query?query=${encodeURIComponent(promql)}`, {
        headers,
      });
      const body = (await response.json()) as { data: { result: { value: [number, string] }[] } };
      return body.data.result.map((sample) => Number(sample.value[1]));
    },
    stop: async () => {
      if (child.exitCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
