import type { Reporter, TestModule } from 'vitest/node';

/** Tests whose name carries this tag may skip in CI: they need a server no package provides. */
export const EXTERNAL_ONLY_TAG = '[needs external server]';

/**
 * Under `CI=true` a skipped test is a failure (integration tests must run there: CI installs
 * redis-server and prometheus), except tests tagged with `EXTERNAL_ONLY_TAG`.
 */
export class RequiredIntegrationReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    if (process.env.CI !== 'true') return;
    const skipped: string[] = [];
    for (const module of testModules) {
      for (const test of module.children.allTests()) {
        if (test.result().state === 'skipped' && !test.fullName.includes(EXTERNAL_ONLY_TAG)) {
          skipped.push(`${module.moduleId}: ${test.fullName}`);
        }
      }
    }
    if (skipped.length > 0) {
      process.exitCode = 1;
      console.error(
        `\nCI=true and ${skipped.length} test(s) skipped; integration tests must run in CI:\n  ${skipped.join('\n  ')}`,
      );
    }
  }
}
