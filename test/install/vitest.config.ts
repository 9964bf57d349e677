// The install tests (`npm run test:install`, a stage of `npm test` after the main suite): they pack
// the repository, which rebuilds dist/ and the prebuild, so they must not run beside tests that
// load those files. Hence their own config and the .spec.ts suffix, which the main config's
// `test/**/*.test.ts` does not match.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/install/**/*.spec.ts'],
    pool: 'forks',
    testTimeout: 600_000,
    hookTimeout: 900_000,
  },
});
