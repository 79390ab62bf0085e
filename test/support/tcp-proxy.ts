import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net';

/**
 * A TCP proxy on loopback in front of one server, for one client's faults: it can delay every
 * chunk, hold all traffic (a partition: connections stay open, nothing gets through, and what
 * was sent is delivered once it ends), reset every connection, and send new connections to
 * another server (a failover behind a DNS name).
 */
export interface TcpProxy {
  readonly port: number;
  readonly url: string;
  /** Delays every chunk, each way, by `ms` (0: none). Order is kept. */
  delay(ms: number): void;
  /** Stops all traffic both ways until `release()`; new connections wait too. */
  hold(): void;
  /** Delivers what was held and lets traffic flow again. */
  release(): void;
  /** Destroys every open connection (the client sees a reset and reconnects). */
  reset(): void;
  /** Connections opened from now on go to `port`; open ones stay with their server. */
  retarget(port: number): void;
  close(): Promise<void>;
}

interface Pipe {
  readonly client: Socket;
  readonly upstream: Socket;
}

export async function startTcpProxy(firstTargetPort: number): Promise<TcpProxy> {
  let targetPort = firstTargetPort;
  let delayMs = 0;
  let held = false;
  /** Writes waiting for the hold to end, in order. */
  let waiting: (() => void)[] = [];
  const pipes = new Set<Pipe>();

  /**
   * Per destination, the chunks waiting out their delay, in order: a chunk sent after the delay
   * was shortened must not overtake them.
   */
  const delayed = new Map<Socket, { readonly at: number; readonly chunk: Buffer }[]>();
  const writeNext = (to: Socket, queue: { readonly at: number; readonly chunk: Buffer }[]) => {
    const { at, chunk } = queue[0]!;
    setTimeout(
      () => {
        queue.shift();
        if (!to.destroyed) to.write(chunk);
        if (queue.length > 0) writeNext(to, queue);
        else delayed.delete(to);
      },
      Math.max(0, at - performance.now()),
    );
  };

  /** Forwards with the current delay; while held, queues instead (keeping order). */
  const forward = (to: Socket, chunk: Buffer): void => {
    const send = (): void => {
      const queue = delayed.get(to);
      if (delayMs === 0 && queue === undefined) {
        if (!to.destroyed) to.write(chunk);
      } else if (queue === undefined) {
        const started = [{ at: performance.now() + delayMs, chunk }];
        delayed.set(to, started);
        writeNext(to, started);
      } else queue.push({ at: performance.now() + delayMs, chunk });
    };
    if (held || waiting.length > 0) waiting.push(send);
    else send();
  };

  const server: Server = createServer((client) => {
    const upstream = tcpConnect(targetPort, '127.0.0.1');
    const pipe = { client, upstream };
    pipes.add(pipe);
    client.on('data', (chunk) => forward(upstream, chunk));
    upstream.on('data', (chunk) => forward(client, chunk));
    const drop = (): void => {
      pipes.delete(pipe);
      client.destroy();
      upstream.destroy();
    };
    client.on('close', drop);
    upstream.on('close', drop);
    client.on('error', drop);
    upstream.on('error', drop);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : 0;

  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    delay: (ms) => {
      delayMs = ms;
    },
    hold: () => {
      held = true;
    },
    release: () => {
      held = false;
      const queued = waiting;
      waiting = [];
      for (const send of queued) send();
    },
    reset: () => {
      for (const { client, upstream } of pipes) {
        client.resetAndDestroy();
        upstream.destroy();
      }
      pipes.clear();
    },
    retarget: (port) => {
      targetPort = port;
    },
    close: async () => {
      for (const { client, upstream } of pipes) {
        client.destroy();
        upstream.destroy();
      }
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
