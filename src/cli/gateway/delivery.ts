import type { ServerResponse } from 'node:http';

/** The reason a request's signal carries when its client went away. */
export class ClientGone extends Error {
  override readonly name = 'ClientGone';
  readonly code = 'client_gone';

  constructor() {
    super('the client closed the connection before the response was written');
  }
}

/** Aborts when the connection of `response` closes before the response was written in full. */
export function clientGoneSignal(response: ServerResponse): AbortSignal {
  const controller = new AbortController();
  if (response.destroyed && !response.writableFinished) controller.abort(new ClientGone());
  else
    response.once('close', () => {
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
  if (response.destroyed) return Promise.resolve(false);
  return new Promise((resolve) => {
    const settle = (): void => {
      response.off('finish', settle);
      response.off('close', settle);
      resolve(response.writableFinished);
    };
    response.once('finish', settle);
    response.once('close', settle);
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
