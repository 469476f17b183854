import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // The Temporal worker's native bridge does not survive worker threads: one process per file.
    pool: 'forks',
    include: ['**/*.test.ts'],
    exclude: ['node_modules/**', '.venv/**', '.venv-*/**', '.qt/**'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    fileParallelism: true,
    poolOptions: { forks: { maxForks: 2 } },
  },
});
