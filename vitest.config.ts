import { defineConfig } from 'vitest/config';
import { RequiredIntegrationReporter } from './test/support/required-integration-reporter.js';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    reporters: ['default', new RequiredIntegrationReporter()],
    // Type tests of the public API: checked by tsc, never run.
    typecheck: {
      enabled: true,
      include: ['test/types/**/*.test-d.ts'],
      tsconfig: 'test/types/tsconfig.json',
    },
  },
});
