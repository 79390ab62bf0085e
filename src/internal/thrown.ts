/**
 * The message of anything thrown: an Error's own, or the value's string form. Never throws,
 * though `String()` does for a value without one (an object without a prototype), so a
 * report of a failure cannot fail in its turn.
 */
export function messageOf(thrown: unknown): string {
  if (thrown instanceof Error) return thrown.message;
  try {
    return String(thrown);
  } catch {
    return Object.prototype.toString.call(thrown);
  }
}
