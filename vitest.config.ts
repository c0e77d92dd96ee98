import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Integration tests share one broker and one embedded ClickHouse per worker process.
    pool: 'forks',
    maxWorkers: 2,
    env: { LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn' },
  },
});
