import { vi } from 'vitest';

/**
 * Fakes the clocks admission reads (timers, performance.now, Date) but not setImmediate, so
 * `flush()` still lets promise chains run while time only moves when a test moves it.
 */
export function useFakeClock(): void {
  vi.useFakeTimers({
    toFake: ['setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'performance', 'Date'],
  });
}
