import manifest from '../package.json' with { type: 'json' };

/** This package's version: the CLI's `--version` and the OpenTelemetry scope version. */
export const VERSION: string = manifest.version;
