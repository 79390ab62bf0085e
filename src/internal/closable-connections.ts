import type { Server } from 'node:http';
import type { Socket } from 'node:net';

/**
 * Lets a closing server end: `server.close()` waits for every connection, and Node stops
 * enforcing its header and request timeouts once it closes, so a client that connected and
 * sent nothing (or half a request) would keep the process alive for ever. Once closing starts,
 * connections without a request under way are destroyed, and the others as soon as their last
 * response is done; requests under way still get their answer.
 */
export class ClosableConnections {
  /** Requests under way on each open connection; a closed one is removed. */
  readonly #inFlight = new Map<Socket, number>();
  #closing = false;

  constructor(server: Server) {
    server.on('connection', (socket: Socket) => {
      // Accepted in the moment between the start of the close and the listener's end.
      if (this.#closing) {
        socket.destroy();
        return;
      }
      this.#inFlight.set(socket, 0);
      socket.once('close', () => this.#inFlight.delete(socket));
    });
    server.on('request', (request, response) => {
      const socket = request.socket;
      const open = this.#inFlight.get(socket);
      if (open === undefined) return; // already closed
      this.#inFlight.set(socket, open + 1);
      response.once('close', () => {
        const inFlight = this.#inFlight.get(socket);
        // A connection that closed first is forgotten already: do not track it again.
        if (inFlight === undefined) return;
        this.#inFlight.set(socket, inFlight - 1);
        if (this.#closing && inFlight === 1) socket.destroy();
      });
    });
  }

  /** Open connections. */
  get size(): number {
    return this.#inFlight.size;
  }

  /** Destroys the connections without a request under way, and the others once they are done. */
  close(): void {
    this.#closing = true;
    for (const [socket, inFlight] of this.#inFlight) if (inFlight === 0) socket.destroy();
  }
}
