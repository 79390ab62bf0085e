/**
 * A promise that rejects with `error` one microtask from now. By then the caller has attached
 * its handler (`await`, `.catch`), which spares the runtime's unhandled-rejection bookkeeping
 * that an already-rejected promise costs (about 600 ns, more than a refusal itself). A caller
 * that never handles it still gets the usual unhandled-rejection report.
 */
export function rejectSoon(error: unknown): Promise<never> {
  return new Promise((_, reject) => queueMicrotask(() => reject(error)));
}
