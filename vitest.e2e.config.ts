import { defineConfig } from 'vitest/config';
import { BaseSequencer, type TestSpecification } from 'vitest/node';

/** The harness self-test goes first: when the test bed is broken, no scenario result means anything. */
class HarnessFirst extends BaseSequencer {
  override async sort(files: TestSpecification[]): Promise<TestSpecification[]> {
    const rank = (f: TestSpecification) => (f.moduleId.endsWith('/harness.test.ts') ? 0 : 1);
    return [...files].sort((a, b) => rank(a) - rank(b) || a.moduleId.localeCompare(b.moduleId));
  }
}

// End-to-end suite on real Debian root filesystems (root only): `npm run test:e2e`.
// One file at a time in one forked worker: the scenarios mount, boot and build, and share a 2-core machine.
export default defineConfig({
  test: {
    pool: 'forks',
    include: ['test/e2e/**/*.test.ts'],
    fileParallelism: false,
    maxWorkers: 1,
    // Its own setup (not test/global-setup.ts): prerequisites, `npm run build`, the Debian root filesystems.
    globalSetup: ['test/e2e/global-setup.ts'],
    sequence: { sequencer: HarnessFirst },
    testTimeout: 10 * 60_000,
    hookTimeout: 15 * 60_000,
    teardownTimeout: 120_000,
    reporters: ['verbose'],
  },
});
