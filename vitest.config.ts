import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Native addon + child processes: separate processes keep a crash or a leaked map contained.
    pool: 'forks',
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
