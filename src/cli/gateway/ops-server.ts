import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Admission } from '../../index.js';
import { listenHttp } from '../../internal/http-listener.js';
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
  const listener = await listenHttp(
    (request: IncomingMessage, response: ServerResponse) => {
      const path = request.url?.split('?')[0];
      // HEAD as GET (Node writes no body for it), as every HTTP server must and the API port does.
      if (request.method !== 'GET' && request.method !== 'HEAD') {
        response.setHeader('allow', 'GET, HEAD');
        return send(
          response,
          405,
          refusal('method_not_allowed', 'this port takes GET and HEAD only'),
        );
      }
      if (path === '/metrics') return metrics(request, response);
      if (path === '/healthz') return send(response, 200, ALIVE);
      if (path === '/readyz') {
        const { status, body } = readiness(admission);
        return send(response, status, body);
      }
      send(response, 404, refusal('not_found', 'no such route'));
    },
    options.host,
    options.port,
  );
  return { url: listener.origin, close: listener.close };
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
