import type { FastifyInstance } from 'fastify';

/**
 * Warns of connections closed over `maxConnections` without a line per connection: the first
 * at once, then, while more are closed, one line per `intervalMs` counting those closed since
 * the last, and a last one as the gateway closes. Every closed connection is in some line.
 */
export function logDrops(app: FastifyInstance, maxConnections: number, intervalMs: number): void {
  let dropped = 0;
  let timer: NodeJS.Timeout | undefined;
  const write = (): boolean => {
    if (dropped === 0) return false;
    app.log.warn({ dropped, maxConnections }, 'connections closed: too many open');
    dropped = 0;
    return true;
  };
  // Writes what was counted and waits one interval; a quiet interval ends the waiting, so the
  // next drop is written at once.
  const tick = (): void => {
    // Unreferenced: the summary does not keep the process alive.
    timer = write() ? setTimeout(tick, intervalMs).unref() : undefined;
  };
  app.server.on('drop', () => {
    dropped++;
    if (timer === undefined) tick();
  });
  app.addHook('onClose', async () => {
    clearTimeout(timer);
    write();
  });
}
