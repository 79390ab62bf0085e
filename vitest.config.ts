import { defineConfig } from 'vitest/config';
import { RequiredIntegrationReporter } from './test/support/required-integration-reporter.js';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    reporters: ['default', new RequiredIntegrationReporter()],
  },
});
