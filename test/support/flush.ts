/** Lets every pending promise callback run (a macrotask boundary drains the microtask queue). */
export function flush(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Runs `flush` a few times, for chains that hop across several macrotasks. */
export async function settle(rounds = 3): Promise<void> {
  for (let i = 0; i < rounds; i++) await flush();
}

export interface Tracked<T> {
  readonly result: {
    readonly status: 'pending' | 'fulfilled' | 'rejected';
    readonly value?: T | undefined;
    readonly error?: unknown;
  };
}

/** Records how a promise settled without letting a rejection go unhandled. */
export function track<T>(promise: Promise<T>): Tracked<T> {
  const handle: { result: Tracked<T>['result'] } = { result: { status: 'pending' } };
  promise.then(
    (value) => {
      handle.result = { status: 'fulfilled', value };
    },
    (error: unknown) => {
      handle.result = { status: 'rejected', error };
    },
  );
  return handle;
}
