const CODED = new Set(['AdmissionError', 'BackendError', 'ConfigError']);

/**
 * The code of one of this package's errors, `internal` for anything else. Matched by name and
 * shape rather than `instanceof`: a CommonJS build bundles each entry point with its own copy
 * of the error classes.
 */
export function errorCode(error: unknown): string {
  if (error instanceof Error && CODED.has(error.name)) {
    const { code } = error as Error & { code?: unknown };
    if (typeof code === 'string') return code;
  }
  return 'internal';
}
