/** Step Functions: one execution per (request, beacon) and per request, named deterministically, so a redelivery starts nothing new; task tokens. */
import { SendTaskSuccessCommand, SFNClient, StartExecutionCommand } from '@aws-sdk/client-sfn';
import {
  type RequestExecutionInput,
  type RequestWorkflowStarter,
  type TaskTokens,
  type WorkflowInput,
  type WorkflowStarter,
  requestExecutionName,
  workflowExecutionName,
  ThrottledError,
} from '../core/ports.js';
import { isThrottling } from './throttling.js';

/**
 * Starts an execution under a deterministic name: a name already taken is `started: false` (a redelivery),
 * throttling is a ThrottledError (retried by the caller), anything else is thrown as is.
 */
async function startNamedExecution(sfn: SFNClient, stateMachineArn: string, executionName: string, input: unknown): Promise<{ executionName: string; started: boolean }> {
  try {
    await sfn.send(new StartExecutionCommand({ stateMachineArn, name: executionName, input: JSON.stringify(input) }));
    return { executionName, started: true };
  } catch (error) {
    if ((error as { name?: string }).name === 'ExecutionAlreadyExists') return { executionName, started: false };
    if (isThrottling(error)) throw new ThrottledError(`Step Functions throttled StartExecution: ${(error as Error).message}`);
    throw error;
  }
}

export class SfnWorkflowStarter implements WorkflowStarter {
  constructor(
    private readonly sfn: SFNClient,
    private readonly stateMachineArn: string,
  ) {}

  startBeaconWorkflow(input: WorkflowInput): Promise<{ executionName: string; started: boolean }> {
    return startNamedExecution(this.sfn, this.stateMachineArn, workflowExecutionName(input.requestId, input.instanceId), input);
  }
}

/** The request-level workflow: one execution per request (then per continuation), named deterministically. */
export class SfnRequestStarter implements RequestWorkflowStarter {
  constructor(
    private readonly sfn: SFNClient,
    private readonly stateMachineArn: string,
  ) {}

  startRequestWorkflow(input: RequestExecutionInput): Promise<{ executionName: string; started: boolean }> {
    return startNamedExecution(this.sfn, this.stateMachineArn, requestExecutionName(input.requestId, input.generation), input);
  }
}

/** Errors of SendTaskSuccess that mean the wait is over: nothing left to wake. */
const GONE_TOKEN_ERRORS = new Set(['TaskTimedOut', 'TaskDoesNotExist', 'InvalidToken']);

export class SfnTaskTokens implements TaskTokens {
  constructor(private readonly sfn: SFNClient) {}

  async sendTaskSuccess(token: string, output: Record<string, unknown>): Promise<'sent' | 'gone'> {
    try {
      await this.sfn.send(new SendTaskSuccessCommand({ taskToken: token, output: JSON.stringify(output) }));
      return 'sent';
    } catch (error) {
      if (GONE_TOKEN_ERRORS.has((error as { name?: string }).name ?? '')) return 'gone';
      if (isThrottling(error)) throw new ThrottledError(`Step Functions throttled SendTaskSuccess: ${(error as Error).message}`);
      throw error;
    }
  }
}
