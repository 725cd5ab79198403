/** Step Functions: one execution per (request, beacon), named deterministically, so a redelivery starts nothing new. */
import { SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { type WorkflowInput, type WorkflowStarter, workflowExecutionName, ThrottledError } from '../core/ports.js';
import { isThrottling } from './throttling.js';

export class SfnWorkflowStarter implements WorkflowStarter {
  constructor(
    private readonly sfn: SFNClient,
    private readonly stateMachineArn: string,
  ) {}

  async startBeaconWorkflow(input: WorkflowInput): Promise<{ executionName: string; started: boolean }> {
    const executionName = workflowExecutionName(input.requestId, input.instanceId);
    try {
      await this.sfn.send(new StartExecutionCommand({ stateMachineArn: this.stateMachineArn, name: executionName, input: JSON.stringify(input) }));
      return { executionName, started: true };
    } catch (error) {
      if ((error as { name?: string }).name === 'ExecutionAlreadyExists') return { executionName, started: false };
      if (isThrottling(error)) throw new ThrottledError(`Step Functions throttled StartExecution: ${(error as Error).message}`);
      throw error;
    }
  }
}
