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

describe('cdk-nag AwsSolutions with every FNMS option on (pin gateway, on-premises inventory, VPC)', () => {
  it('reports no unacknowledged finding', () => {
    const { stack: full } = synthStack({
      pinMode: 'gateway',
      gatewayUrl: 'https://pin-gateway.corp.example',
      fnmsInventory: 'onPremises',
      fnmsUrl: 'https://fnms.corp.example',
      fnmsAccount: 'CORP\\svc-fnms-ws',
      fnmsReportId: '17',
      fnmsReportColumns: 'name=Beacon name,computerName=Computer name,version=Version,status=Status,lastContact=Last contact',
      fnmsVpcId: 'vpc-0123456789abcdef0',
      fnmsSubnetIds: 'subnet-0123456789abcdef0',
    });
    const report = new AwsSolutionsChecks().validateScope(full);
    const findings = report.violations.map((violation) => `${violation.ruleName} at ${violation.violatingResources.map((r) => r.constructPath).join(', ')}`);
    expect(findings).toEqual([]);
  });
});
