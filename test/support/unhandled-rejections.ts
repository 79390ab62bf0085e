/**
 * Records the process's unhandled rejections from now until `stop()`: a test that a failure is
 * reported rather than left to end the process expects `reasons` to stay empty.
 */
export function watchUnhandledRejections(): { readonly reasons: unknown[]; stop(): void } {
  const reasons: unknown[] = [];
  const record = (reason: unknown): void => {
    reasons.push(reason);
  };
  process.on('unhandledRejection', record);
  return { reasons, stop: () => process.off('unhandledRejection', record) };
}
