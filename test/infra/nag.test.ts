import { Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { beforeAll, describe, expect, it } from 'vitest';
import { synthStack } from './synth.js';

let stack: ReturnType<typeof synthStack>['stack'];

beforeAll(() => {
  ({ stack } = synthStack());
});

function acknowledgements(): Array<{ id: string; reason: string }> {
  const found: Array<{ id: string; reason: string }> = [];
  for (const node of stack.node.findAll()) {
    for (const entry of node.node.metadata) {
      if (entry.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY) continue;
      for (const [id, reason] of Object.entries(entry.data as Record<string, unknown>)) found.push({ id, reason: typeof reason === 'string' ? reason : JSON.stringify(reason) });
    }
  }
  return found;
}

describe('cdk-nag AwsSolutions', () => {
  it('reports no unacknowledged finding on the stack', () => {
    const report = new AwsSolutionsChecks().validateScope(stack);
    const findings = report.violations.map((violation) => `${violation.ruleName} at ${violation.violatingResources.map((r) => r.constructPath).join(', ')}`);
    expect(findings).toEqual([]);
  });

  it('acknowledges each finding with a reason of its own, never a whole rule family blindly', () => {
    const acks = acknowledgements();
    expect(acks.length).toBeGreaterThan(0);
    for (const ack of acks) {
      expect(ack.reason.length, ack.id).toBeGreaterThan(40);
      // IAM5 is granular: only exact findings are acknowledged, never the bare rule.
      expect(ack.id).not.toMatch(/IAM5$/);
    }
  });
});
