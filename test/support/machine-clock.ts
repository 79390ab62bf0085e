/**
 * Milliseconds on the machine's monotonic clock (CLOCK_MONOTONIC, which every process on the
 * machine reads alike), for timelines gathered from several processes.
 * `performance.timeOrigin + performance.now()` is not that: each process pins its origin with
 * two separate clock reads at start-up, and a process descheduled between them is off by as
 * long (seen: 128 ms on one of 60 processes started at once on a loaded machine), enough to
 * put one instance's session open before another's close that freed its slot.
 */
export function machineClock(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}
