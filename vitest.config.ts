import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    pool: 'forks',
    include: ['test/**/*.test.ts', 'generators/**/*.test.ts', 'runtime/**/*.test.ts', 'tasks/**/*.test.ts'],
    exclude: ['test/e2e/**', 'node_modules/**'],
    // The package is built once (tsc + esbuild) so tests can run the real bin and bundle.
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
  },
});
