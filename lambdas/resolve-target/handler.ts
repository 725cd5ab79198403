/** ResolveTarget: is this beacon SSM-managed, Windows, online and tagged as a beacon? Skips say why. */
import type { BeaconCommands } from '../core/ports.js';
import type { ResolveResult } from '../workflow/state.js';
import * as awsConfig from '../aws/clients/config.js';
import * as awsSsm from '../aws/clients/ssm.js';
import { lambdaEntry } from '../aws/runtime.js';

export interface ResolveTargetDeps {
  commands: BeaconCommands;
  beaconTag: { key: string; value: string };
}

export interface ResolveTargetEvent {
  requestId: string;
  instanceId: string;
}

export function createResolveTargetHandler(deps: ResolveTargetDeps) {
  return async function resolveTarget(event: ResolveTargetEvent): Promise<ResolveResult> {
    const { instanceId } = event;
    const skip = (reason: string, computerName: string | null = null): ResolveResult => ({ instanceId, eligible: false, computerName, reason });
    const [managed] = await deps.commands.findManagedInstances({ instanceIds: [instanceId] });
    if (!managed) return skip('not an SSM managed instance (no SSM Agent registration in this account and region)');
    if ((managed.platformType ?? '').toLowerCase() !== 'windows') {
      return skip(`not a Windows instance (platform ${managed.platformType ?? 'unknown'}); FlexNet beacons run on Windows Server`, managed.computerName);
    }
    if (managed.pingStatus !== 'Online') {
      return skip(`offline: SSM Agent ping status is ${managed.pingStatus}`, managed.computerName);
    }
    const tagged = await deps.commands.findManagedInstances({ instanceIds: [instanceId], tag: deps.beaconTag });
    if (tagged.length === 0) {
      return skip(`not tagged ${deps.beaconTag.key}=${deps.beaconTag.value}; only tagged beacons may be configured`, managed.computerName);
    }
    return { instanceId, eligible: true, computerName: managed.computerName, reason: null };
  };
}

export const handler = lambdaEntry(() => createResolveTargetHandler({ commands: awsSsm.beaconCommands(), beaconTag: awsConfig.beaconTag() }));
