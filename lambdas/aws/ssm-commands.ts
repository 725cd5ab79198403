/** SSM Run Command and instance inventory. SSM throttles without a published rate: the SDK retries adaptively, then ThrottledError lets the state machine back off. */
import {
  CancelCommandCommand,
  DescribeInstanceInformationCommand,
  GetCommandInvocationCommand,
  ListCommandInvocationsCommand,
  ListCommandsCommand,
  SendCommandCommand,
  type InstanceInformationStringFilter,
  SSMClient,
} from '@aws-sdk/client-ssm';
import { DOCUMENT_STEPS } from '../core/document-contract.js';
import { type BeaconCommands, type CommandInvocation, type DocumentParameters, type InstanceFilter, type ManagedInstance, type SendCommandOptions, ThrottledError } from '../core/ports.js';

import { isThrottling } from './throttling.js';

export { isThrottling };

/**
 * Counts every SSM answer that says "throttled", each attempt the SDK retries included: the dashboard's SSM
 * throttles. Placed inside the SDK's retry loop (finalizeRequest, low priority), it sees every attempt.
 */
export function countThrottledAttempts<C extends Pick<SSMClient, 'middlewareStack'>>(client: C, onThrottled: () => void): C {
  client.middlewareStack.add(
    (next) => async (args) => {
      try {
        return await next(args);
      } catch (error) {
        if (isThrottling(error)) onThrottled();
        throw error;
      }
    },
    { step: 'finalizeRequest', priority: 'low', name: 'beaconProxyCountThrottledAttempts' },
  );
  return client;
}

async function mapThrottling<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    if (isThrottling(error)) throw new ThrottledError(`SSM throttled the call: ${(error as Error).message}`);
    throw error;
  }
}

export class SsmBeaconCommands implements BeaconCommands {
  constructor(
    private readonly ssm: SSMClient,
    /** `deliveryTimeoutSeconds`: SendCommand TimeoutSeconds when a call does not give one (the workflow timing's delivery deadline). */
    private readonly options: { outputLogGroup?: string; deliveryTimeoutSeconds?: number } = {},
  ) {}

  sendCommand(instanceIds: string[], documentName: string, parameters: DocumentParameters, sendOptions: SendCommandOptions = {}): Promise<string> {
    const { comment } = sendOptions;
    const deliveryTimeoutSeconds = sendOptions.deliveryTimeoutSeconds ?? this.options.deliveryTimeoutSeconds;
    if (instanceIds.length === 0 || instanceIds.length > 50) throw new Error('SendCommand takes 1 to 50 instance ids');
    return mapThrottling(async () => {
      const result = await this.ssm.send(
        new SendCommandCommand({
          InstanceIds: instanceIds,
          DocumentName: documentName,
          DocumentVersion: '$LATEST',
          Parameters: parameters,
          ...(comment ? { Comment: comment } : {}),
          // The delivery deadline: how long the command may wait for the instance. The execution limit is the
          // document step's own timeoutSeconds.
          ...(deliveryTimeoutSeconds ? { TimeoutSeconds: deliveryTimeoutSeconds } : {}),
          ...(this.options.outputLogGroup
            ? { CloudWatchOutputConfig: { CloudWatchOutputEnabled: true, CloudWatchLogGroupName: this.options.outputLogGroup } }
            : {}),
        }),
      );
      const commandId = result.Command?.CommandId;
      if (!commandId) throw new Error(`SendCommand of ${documentName} returned no command id`);
      return commandId;
    });
  }

  getInvocation(commandId: string, instanceId: string): Promise<CommandInvocation | null> {
    return mapThrottling(async () => {
      try {
        // The documents have two steps (download the module, run the script): GetCommandInvocation must name the step.
        const result = await this.ssm.send(new GetCommandInvocationCommand({ CommandId: commandId, InstanceId: instanceId, PluginName: DOCUMENT_STEPS.script }));
        return {
          status: result.Status ?? 'Pending',
          // The API documents details with spaces ("Delivery Timed Out"); compare without them.
          ...(result.StatusDetails ? { statusDetails: result.StatusDetails.replace(/\s+/g, '') } : {}),
          stdout: result.StandardOutputContent ?? '',
          stderr: result.StandardErrorContent ?? '',
          executionStartedAt: result.ExecutionStartDateTime ? result.ExecutionStartDateTime : null,
        };
      } catch (error) {
        // Right after SendCommand the invocation may not exist yet.
        if ((error as { name?: string }).name === 'InvocationDoesNotExist') return null;
        throw error;
      }
    });
  }

  cancelCommand(commandId: string, instanceIds: string[]): Promise<void> {
    return mapThrottling(async () => {
      await this.ssm.send(new CancelCommandCommand({ CommandId: commandId, InstanceIds: instanceIds }));
    });
  }

  findCommand(instanceId: string, documentName: string, comment: string): Promise<string | null> {
    return mapThrottling(async () => {
      let nextToken: string | undefined;
      do {
        const page = await this.ssm.send(
          new ListCommandsCommand({ InstanceId: instanceId, Filters: [{ key: 'DocumentName', value: documentName }], MaxResults: 50, NextToken: nextToken }),
        );
        const found = (page.Commands ?? []).find((command) => command.Comment === comment && command.CommandId);
        if (found?.CommandId) return found.CommandId;
        nextToken = page.NextToken;
      } while (nextToken);
      return null;
    });
  }

  findManagedInstances(filter: InstanceFilter): Promise<ManagedInstance[]> {
    return mapThrottling(async () => {
      const filters: InstanceInformationStringFilter[] = [];
      if (filter.instanceIds) filters.push({ Key: 'InstanceIds', Values: filter.instanceIds });
      if (filter.tag) filters.push({ Key: `tag:${filter.tag.key}`, Values: [filter.tag.value] });
      const found: ManagedInstance[] = [];
      let nextToken: string | undefined;
      do {
        const page = await this.ssm.send(new DescribeInstanceInformationCommand({ Filters: filters, MaxResults: 50, NextToken: nextToken }));
        for (const info of page.InstanceInformationList ?? []) {
          if (!info.InstanceId) continue;
          found.push({ instanceId: info.InstanceId, computerName: info.ComputerName ?? null, platformType: info.PlatformType ?? null, pingStatus: info.PingStatus ?? 'Inactive' });
        }
        nextToken = page.NextToken;
      } while (nextToken);
      return found;
    });
  }

  listManagedInstancesPage(tag: { key: string; value: string }, nextToken: string | null, pageSize: number): Promise<{ instances: ManagedInstance[]; nextToken: string | null }> {
    return mapThrottling(async () => {
      const page = await this.ssm.send(
        new DescribeInstanceInformationCommand({ Filters: [{ Key: `tag:${tag.key}`, Values: [tag.value] }], MaxResults: pageSize, ...(nextToken ? { NextToken: nextToken } : {}) }),
      );
      const instances = (page.InstanceInformationList ?? [])
        .filter((info) => info.InstanceId)
        .map((info) => ({ instanceId: info.InstanceId!, computerName: info.ComputerName ?? null, platformType: info.PlatformType ?? null, pingStatus: info.PingStatus ?? 'Inactive' }));
      return { instances, nextToken: page.NextToken ?? null };
    });
  }

  listInvocations(commandId: string): Promise<Array<{ instanceId: string; status: string }>> {
    return mapThrottling(async () => {
      const out: Array<{ instanceId: string; status: string }> = [];
      let nextToken: string | undefined;
      do {
        const page = await this.ssm.send(new ListCommandInvocationsCommand({ CommandId: commandId, MaxResults: 50, NextToken: nextToken }));
        for (const invocation of page.CommandInvocations ?? []) {
          if (invocation.InstanceId) out.push({ instanceId: invocation.InstanceId, status: invocation.Status ?? 'Pending' });
        }
        nextToken = page.NextToken;
      } while (nextToken);
      return out;
    });
  }
}
