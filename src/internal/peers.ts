/**
 * A helper (a telemetry helper, or `redisStore()` given a URL) was called without the optional
 * peer dependencies it needs. The message names them all, as the `npm install` command that
 * fixes it.
 */
export class MissingPeerError extends Error {
  override readonly name = 'MissingPeerError';
  readonly code = 'missing_peer' as const;
  /** The packages the helper needs. */
  readonly packages: readonly string[];

  constructor(helper: string, packages: readonly string[], cause: unknown) {
    super(`${helper}() needs ${packages.join(', ')}: npm install ${packages.join(' ')}`, {
      cause,
    });
    this.packages = packages;
  }
}

/**
 * Runs `load` (the helper's dynamic imports) and turns a missing module into a
 * `MissingPeerError`; any other failure passes through unchanged.
 */
export async function loadPeers<T>(
  helper: string,
  packages: readonly string[],
  load: () => Promise<T>,
): Promise<T> {
  try {
    return await load();
  } catch (error) {
    const code = (error as { code?: unknown } | null)?.code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') {
      throw new MissingPeerError(helper, packages, error);
    }
    throw error;
  }
}
