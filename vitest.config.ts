import { defineConfig } from 'vitest/config'

// Native chDB binds one data folder per process, so test files run in forked processes, each with its
// own folder (tests/helpers/infra.ts). The broker and Redis are shared by the whole run and every
// test file isolates itself with its own topic prefix, Redis prefix and ClickHouse database.
export default defineConfig({
  test: {
    include: ['tests/**/*.test.ts'],
    pool: 'forks',
    isolate: true,
    maxWorkers: Number(process.env.TEST_WORKERS ?? 2),
    globalSetup: ['tests/setup/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    teardownTimeout: 30_000,
    reporters: ['default'],
  },
})
