import { defineConfig } from 'tsup';

const entry = {
  index: 'src/index.ts',
  'cli/main': 'src/cli/main.ts',
};

export default defineConfig([
  {
    entry,
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
    entry: { index: entry.index },
    format: ['cjs'],
    dts: true,
    sourcemap: true,
    target: 'node20',
    platform: 'node',
    noExternal: ['p-queue'],
  },
]);
