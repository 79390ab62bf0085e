import { afterEach, expect, it, vi } from 'vitest';
import type { RedisConnection } from '../../../../src/admission/store/redis/redis-client.js';
import { Wakeups } from '../../../../src/admission/store/redis/wakeups.js';
import { MAX_TIMER_MS } from '../../../../src/internal/validate.js';
import { useFakeClock } from '../../../support/fake-clock.js';
import { flush } from '../../../support/flush.js';

afterEach(() => {
  vi.useRealTimers();
  vi.restoreAllMocks();
});

it('jitters the longest poll no further than a timer can wait, rather than polling after 1 ms', async () => {
  useFakeClock();
  vi.spyOn(Math, 'random').mockReturnValue(0.99); // the poll at 1.49 x pollMs
  const unreachable = Promise.reject<RedisConnection>(new Error('no Redis here'));
  const wakeups = new Wakeups(unreachable, 'channel', 'self', MAX_TIMER_MS, () => undefined);
  let polls = 0;
  wakeups.subscribe(() => polls++);
  await flush();
  vi.advanceTimersByTime(10);
  expect(polls).toBe(0);
  vi.advanceTimersByTime(MAX_TIMER_MS);
  expect(polls).toBe(1);
  await wakeups.close();
});
