import { defineConfig } from 'tsup';

const library = {
  index: 'src/index.ts',
  telemetry: 'src/telemetry/index.ts',
  'livekit-agents': 'src/integrations/livekit-agents.ts',
};

export default defineConfig([
  {
    entry: { ...library, 'cli/main': 'src/cli/main.ts' },
    format: ['esm'],
    dts: true,
    sourcemap: true,
    clean: true,
    target: 'node20',
    platform: 'node',
    splitting: true,
  },
  {
    // CommonJS consumers on Node < 20.19 cannot require() ESM-only packages,
    // so the ESM-only runtime dependency is bundled into the CommonJS build.
    // Split like the ESM build: code shared by the entry points lives in one chunk, so an
    // error class is one class whichever entry point threw it (`instanceof` holds).
    entry: library,
    format: ['cjs'],
    dts: true,
    sourcemap: true,
    target: 'node20',
    platform: 'node',
    splitting: true,
    noExternal: ['p-queue'],
    // Rollup then turns the split chunks into CommonJS; without it, tsup's own conversion leaves
    // the source maps naming the intermediate file by its absolute path on the build machine.
    treeshake: true,
  },
]);
