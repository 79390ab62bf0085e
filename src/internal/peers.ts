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
 * The rejection handler for a peer's dynamic `import()`: a missing module becomes a
 * `MissingPeerError` naming `packages`; any other failure passes through unchanged. Chained
 * directly on each `import()`, it also tells bundlers (esbuild) that the import may fail at run
 * time, so an application that bundles this package builds without its optional peers.
 */
export function missingPeer(helper: string, packages: readonly string[]) {
  return (error: unknown): never => {
    const code = (error as { code?: unknown } | null)?.code;
    if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') {
      throw new MissingPeerError(helper, packages, error);
    }
    throw error;
  };
}
