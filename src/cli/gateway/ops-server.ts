import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Admission } from '../../index.js';
import { ClosableConnections } from '../../internal/closable-connections.js';
import type { MetricsHandler } from './gateway.js';
import { ALIVE, readiness } from './probes.js';

export interface OpsServer {
  /** `http://host:port`, without a path. */
  readonly url: string;
  close(): Promise<void>;
}

/**
 * The metrics port's server (`--metrics-port`): `GET /metrics`, and the probes `/healthz` and
 * `/readyz` as the gateway answers them. Probes pointed here do not share the API port's
 * connections: a flood that fills its `--max-connections` would otherwise fail liveness and
 * get the process restarted, live calls and all.
 */
export async function startOpsServer(options: {
  readonly admission: Admission;
  readonly metrics: MetricsHandler;
  readonly host: string;
  readonly port: number;
}): Promise<OpsServer> {
  const { admission, metrics } = options;
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const path = request.url?.split('?')[0];
    if (request.method !== 'GET') {
      response.setHeader('allow', 'GET');
      return send(response, 405, refusal('method_not_allowed', 'this port takes GET only'));
    }
    if (path === '/metrics') return metrics(request, response);
    if (path === '/healthz') return send(response, 200, ALIVE);
    if (path === '/readyz') {
      const { status, body } = readiness(admission);
      return send(response, status, body);
    }
    send(response, 404, refusal('not_found', 'no such route'));
  });
  const connections = new ClosableConnections(server);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { address, family, port } = server.address() as AddressInfo;
  const host = address === '0.0.0.0' ? '127.0.0.1' : address === '::' ? '::1' : address;
  return {
    url: `http://${family === 'IPv6' ? `[${host}]` : host}:${port}`,
    close: async () => {
      connections.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** The API's error body. */
function refusal(code: string, message: string) {
  return { error: { code, message } };
}

function send(response: ServerResponse, status: number, body: object): void {
  const text = JSON.stringify(body);
  response
    .writeHead(status, {
      'content-type': 'application/json; charset=utf-8',
      'content-length': Buffer.byteLength(text),
    })
    .end(text);
}
