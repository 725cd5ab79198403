import { defineConfig } from 'vitest/config';

/**
 * The test set `npm run mutation` runs against each mutant: the fast, in-process unit tests that exercise
 * lambdas/core/**, the workflow steps, the poll step, the rollout steps and the DynamoDB adapters (dynalite).
 * Left out because they cannot see a mutant and only cost time: tests that run the code in another process
 * (test/core/cli.test.ts spawns the CLI; Stryker activates a mutant only in its own test process), CDK
 * synthesis (test/infra, test/lambdas/chatops-least-privilege.test.ts), PowerShell (the rest of test/ssm) and the twin
 * (test/e2e).
 */
export default defineConfig({
  test: {
    // test/ssm/documents.test.ts runs no PowerShell: it checks the committed documents against the contract.
    include: ['test/core/**/*.test.ts', 'test/lambdas/**/*.test.ts', 'test/ssm/documents.test.ts'],
    exclude: ['test/core/cli.test.ts', 'test/lambdas/chatops-least-privilege.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: 'forks',
  },
});
