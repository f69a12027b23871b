import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';
import { SYSTEM_TESTS, UNIT_STUBS } from './test/lanes.js';

// Two lanes (test/lanes.ts): `npm test` runs both, `npm run test:unit` the unit lane alone (no root,
// no Debian packages), `npm run test:system` the other. The Debian bed is vitest.e2e.config.ts.
const ALL = [
  'test/**/*.test.ts',
  'core/**/*.test.ts',
  'generators/**/*.test.ts',
  'runtime/**/*.test.ts',
  'tasks/**/*.test.ts',
];

export default defineConfig({
  test: {
    pool: 'forks',
    // Every core (vitest's default leaves one idle: one worker on a 2-core machine). The tests wait on
    // the programs they run (sh, bash, node, sshd) far more than they compute themselves.
    maxWorkers: Math.max(2, availableParallelism()),
    // Bounds, not targets: on a busy 2-core machine a bundle-and-install test takes a minute or more.
    testTimeout: 180_000,
    hookTimeout: 180_000,
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ALL,
          exclude: ['test/e2e/**', 'node_modules/**', ...SYSTEM_TESTS],
          globalSetup: ['test/global-setup.ts'],
          env: { PATH: `${UNIT_STUBS}:${process.env.PATH ?? '/usr/bin:/bin'}` },
        },
      },
      {
        extends: true,
        test: {
          name: 'system',
          include: [...SYSTEM_TESTS],
          globalSetup: ['test/global-setup.ts', 'test/global-setup-system.ts'],
        },
      },
    ],
  },
});
