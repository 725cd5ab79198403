import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
    // The crash matrix runs its cells concurrently (each waits mostly on scaled time and PowerShell).
    maxConcurrency: 6,
  },
});
