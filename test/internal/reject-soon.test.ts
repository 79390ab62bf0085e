import { afterEach, expect, it } from 'vitest';
import { rejectSoon } from '../../src/internal/reject-soon.js';

const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown): void => {
  unhandled.push(reason);
};

afterEach(() => {
  process.off('unhandledRejection', onUnhandled);
  unhandled.length = 0;
});

it('rejects with the error, after the caller has had the chance to attach a handler', async () => {
  const error = new Error('refused');
  const promise = rejectSoon(error);
  let settled = false;
  promise.catch(() => {
    settled = true;
  });
  expect(settled).toBe(false); // not rejected synchronously
  await expect(promise).rejects.toBe(error);
  expect(settled).toBe(true);
});

it('a rejection nobody handles is still reported as unhandled', async () => {
  process.on('unhandledRejection', onUnhandled);
  const error = new Error('ignored');
  void rejectSoon(error);
  await new Promise((resolve) => setTimeout(resolve, 10));
  expect(unhandled).toEqual([error]);
});
