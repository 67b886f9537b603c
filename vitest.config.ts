import { createRequire } from 'node:module';
import { defineConfig } from 'vitest/config';

const require = createRequire(import.meta.url);
const LAST = 'test/reliability/leaks.test.ts';

export default defineConfig({
  // One graphql module for everyone: type-graphql and Apollo require() the CommonJS build, so
  // our own imports must resolve to it too (two copies break instanceof and schema building).
  resolve: { alias: { graphql: require.resolve('graphql') } },
  test: {
    globalSetup: ['test/helpers/global-setup.ts'],
    pool: 'forks',
    maxWorkers: 3,
    testTimeout: 60_000,
    hookTimeout: 120_000,
    reporters: ['default', './test/helpers/summary-reporter.ts'],
    sequence: { hooks: 'stack' },
    projects: [
      {
        extends: true,
        test: {
          name: 'suite',
          include: ['test/**/*.test.ts'],
          exclude: ['test/bench/**', 'node_modules/**', LAST],
        },
      },
      {
        // Reads what every other file left behind: runs after them.
        extends: true,
        test: { name: 'last', include: [LAST], sequence: { groupOrder: 1 } },
      },
    ],
  },
});
