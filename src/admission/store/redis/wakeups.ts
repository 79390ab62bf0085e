import { MAX_TIMER_MS } from '../../../internal/validate.js';
import { type RedisConnection, redisFailure } from './redis-client.js';

/**
 * Tells local waiters when a slot may have been freed elsewhere: a pub/sub message from every
 * script that released leases (the releasing instance and how many), and, because a message
 * can be lost (reconnects) and expired leases announce nothing, a jittered poll. Listeners are
 * told how many slots were freed when a message says so, and only retry their waiters, so a
 * spurious call is cheap.
 */
export class Wakeups {
  readonly #client: Promise<RedisConnection>;
  readonly #channel: string;
  /** What this process's releases publish: it has woken its own waiters already (`wakeSoon`). */
  readonly #self: string;
  readonly #pollMs: number;
  readonly #listeners: ((freed?: number) => void)[] = [];
  readonly #onError: (error: unknown) => void;
  #connection: RedisConnection | undefined;
  #started = false;
  #poll: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(
    client: Promise<RedisConnection>,
    channel: string,
    self: string,
    pollMs: number,
    onError: (error: unknown) => void,
  ) {
    this.#onError = onError;
    this.#client = client;
    this.#channel = channel;
    this.#self = self;
    this.#pollMs = pollMs;
  }

  subscribe(listener: (freed?: number) => void): () => void {
    this.#listeners.push(listener);
    this.#start();
    return () => {
      const index = this.#listeners.indexOf(listener);
      if (index >= 0) this.#listeners.splice(index, 1);
    };
  }

  /**
   * Wakes the listeners at the next microtask, for a slot freed by this process: a waiter's
   * retry then joins the same batch as the release, one round trip instead of two.
   */
  wakeSoon(): void {
    if (this.#listeners.length > 0 && !this.#closed) queueMicrotask(this.#notifyAll);
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#poll !== undefined) clearTimeout(this.#poll);
    this.#connection?.disconnect();
  }

  /** `#notify` with no count, made once: `wakeSoon` runs on every release here. */
  readonly #notifyAll = (): void => this.#notify();

  #notify(freed?: number): void {
    for (const listener of [...this.#listeners]) listener(freed);
  }

  #start(): void {
    if (this.#started || this.#closed) return;
    this.#started = true;
    this.#client.then(
      (client) => {
        if (this.#closed) return;
        const subscriber = client.duplicate();
        this.#connection = subscriber;
        subscriber.on('message', (_channel, message) => {
          const [publisher, freed] = message.split(' ');
          if (publisher !== this.#self) this.#notify(slotCount(freed));
        });
        // ioredis re-subscribes on reconnect, but only to channels Redis confirmed: a SUBSCRIBE
        // it gave up on (Redis down past its retries) is sent again here once connected. The
        // poll covers the gap meanwhile. One report per outage: ioredis emits an error per
        // reconnect attempt.
        let subscribeFailed = false;
        const subscribe = (): void => {
          subscribeFailed = false;
          subscriber.subscribe(this.#channel).catch((error: unknown) => {
            subscribeFailed = true;
            if (!this.#closed) this.#onError(redisFailure('subscribe', error));
          });
        };
        let reported = false;
        subscriber.on('error', (error) => {
          if (!reported) this.#onError(error);
          reported = true;
        });
        subscriber.on('ready', () => {
          reported = false;
          if (subscribeFailed && !this.#closed) subscribe();
        });
        subscribe();
      },
      (error: unknown) => this.#onError(error),
    );
    this.#schedulePoll();
  }

  #schedulePoll(): void {
    if (this.#closed) return;
    // Jitter can take the longest pollMs past the longest timer, which would fire after 1 ms.
    const delay = Math.min(this.#pollMs * (0.5 + Math.random()), MAX_TIMER_MS);
    this.#poll = setTimeout(() => {
      this.#notify();
      this.#schedulePoll();
    }, delay);
    this.#poll.unref();
  }
}

/** The number of freed slots a message announces, if it says a plain positive count. */
function slotCount(text: string | undefined): number | undefined {
  const count = Number(text);
  return Number.isSafeInteger(count) && count > 0 ? count : undefined;
}
