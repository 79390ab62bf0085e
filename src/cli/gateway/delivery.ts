import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/** The reason a request's signal carries when its client went away. */
export class ClientGone extends Error {
  override readonly name = 'ClientGone';
  readonly code = 'client_gone';

  constructor() {
    super('the client closed the connection before the response was written');
  }
}

/** What to run when a connection closes, one listener per connection however many wait. */
const onConnectionClose = new WeakMap<Socket, Set<() => void>>();

/**
 * Calls `then` once `response` is done with: written, or its connection closed. A pipelined
 * request's response waits for those before it and is not on the connection yet: Node emits
 * no `close` on it when the client leaves, only on the connection itself.
 */
export function onceDone(response: ServerResponse, then: () => void): void {
  const { socket } = response.req;
  if (response.destroyed || socket.destroyed) {
    then();
    return;
  }
  const callbacks = closeCallbacks(socket);
  const done = (): void => {
    // Once: the connection's close emits the response's too.
    if (!callbacks.delete(done)) return;
    response.off('close', done);
    then();
  };
  callbacks.add(done);
  response.once('close', done);
}

/** The callbacks run when `socket` closes. */
function closeCallbacks(socket: Socket): Set<() => void> {
  let callbacks = onConnectionClose.get(socket);
  if (callbacks === undefined) {
    const created = new Set<() => void>();
    socket.once('close', () => {
      for (const callback of created) callback();
    });
    onConnectionClose.set(socket, created);
    callbacks = created;
  }
  return callbacks;
}

/** Aborts when the connection of `response` closes before the response was written in full. */
export function clientGoneSignal(response: ServerResponse): AbortSignal {
  const controller = new AbortController();
  onceDone(response, () => {
    if (!response.writableFinished) controller.abort(new ClientGone());
  });
  return controller.signal;
}

/**
 * Resolves true once `response` was handed to its connection in full, false when the
 * connection closed first (the client never got it).
 */
export function written(response: ServerResponse): Promise<boolean> {
  if (response.writableFinished) return Promise.resolve(true);
  return new Promise((resolve) => {
    const settle = (): void => {
      response.off('finish', settle);
      resolve(response.writableFinished);
    };
    response.once('finish', settle);
    onceDone(response, settle);
  });
}

interface Handover {
  /** Responses carrying the resource now being written. */
  inFlight: number;
  /** Some client got it. */
  received: boolean;
}

/**
 * Makes sure what a request produced reaches a client or is given back. A resource may be
 * handed to several requests (retries with the same idempotency key get the same session):
 * it is given back only when none of them got it. Entries live while the resource does.
 */
export class Handovers<T extends object> {
  readonly #entries = new WeakMap<T, Handover>();
  readonly #giveBack: (resource: T) => void;

  constructor(giveBack: (resource: T) => void) {
    this.#giveBack = giveBack;
  }

  /**
   * Sends `resource` with `send()` unless the client has gone already; gives the resource
   * back if no client of any request for it received it.
   */
  handOver(resource: T, response: ServerResponse, clientGone: AbortSignal, send: () => void): void {
    let entry = this.#entries.get(resource);
    if (entry === undefined) {
      entry = { inFlight: 0, received: false };
      this.#entries.set(resource, entry);
    }
    const settled = entry;
    settled.inFlight++;
    const finish = (received: boolean): void => {
      settled.inFlight--;
      settled.received ||= received;
      if (settled.inFlight === 0 && !settled.received) this.#giveBack(resource);
    };
    if (clientGone.aborted) {
      finish(false);
      return;
    }
    send();
    void written(response).then(finish);
  }
}
