// StrykerJS for `npm run mutation` (scripts/mutation.ts runs it and writes bench/mutation.md from its JSON report).
// The mutate list is the decision code of issue 14: lambdas/core/** and the files that decide outcomes.
/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  vitest: { configFile: 'vitest.mutation.config.ts' },
  coverageAnalysis: 'perTest',
  // scripts/mutation.ts runs two groups (MUTATION_MUTATE): lambdas/core/** and the files that decide outcomes.
  mutate: process.env.MUTATION_MUTATE
    ? process.env.MUTATION_MUTATE.split(',')
    : ['lambdas/core/**/*.ts', '!lambdas/core/**/*.d.ts', 'lambdas/workflow/*.ts', 'lambdas/poll-command/handler.ts', 'lambdas/rollout/*.ts', 'lambdas/aws/dynamo.ts'],
  // Static mutants (module-level constants) rerun every related test file per mutant (~50 s each here): the
  // core group skips them for time unless `--with-static`; bench/mutation.md counts every one it skipped.
  ignoreStatic: process.env.MUTATION_IGNORE_STATIC === '1',
  // Only what the tests need is copied to the sandbox (node_modules is linked, never copied).
  ignorePatterns: ['/.tools', '/cdk.out', '/coverage', '/dist', '/out', '/.beacon-proxy', '/beacon-proxy-run', '/beacon-proxy-serve', '/bench/*.md'],
  reporters: ['json', 'progress'],
  // scripts/mutation.ts sends a partial run (--mutate) to its own report and incremental file.
  jsonReporter: { fileName: process.env.MUTATION_JSON_REPORT ?? 'reports/mutation/mutation.json' },
  incremental: true,
  incrementalFile: process.env.MUTATION_INCREMENTAL_FILE ?? 'reports/stryker-incremental.json',
  // MUTATION_CONCURRENCY=1 when the machine is shared (another Stryker or a benchmark on the same cores).
  concurrency: Number(process.env.MUTATION_CONCURRENCY) || 2,
  timeoutMS: 10_000,
  tempDirName: '.stryker-tmp',
  cleanTempDir: true,
  thresholds: { high: 90, low: 80, break: null },
};
