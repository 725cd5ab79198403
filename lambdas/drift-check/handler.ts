/**
 * The fleet drift check, run by a schedule. Each run first reviews the verify pass the previous run sent
 * (a beacon whose checks fail gets the default profile re-applied: an upgrade resets the service account,
 * and a run interrupted after SendCommand leaves a beacon half configured), then sends the next pass of the
 * read-only verify document to every online, tagged beacon. No run waits for a document to finish.
 */
import { documentParameters, renderDesiredState } from '../core/desired-state.js';
import { buildRequestFromProfile } from '../core/chatops/index.js';
import { DOCUMENT_PARAMETERS } from '../core/document-contract.js';
import { type BeaconCommands, type Clock, type FleetMemory, type Log, type ProfileStore, type RequestQueue, silentLog } from '../core/ports.js';
import { LIMITS } from '../core/limits.js';
import { judgeResult } from '../core/result.js';
import * as awsConfig from '../aws/clients/config.js';
import * as awsDynamo from '../aws/clients/dynamo.js';
import * as awsSdk from '../aws/clients/sdk.js';
import * as awsSqs from '../aws/clients/sqs.js';
import * as awsSsm from '../aws/clients/ssm.js';
import { ENV } from '../aws/env-names.js';
import { env, lambdaEntry, log, optionalEnv } from '../aws/runtime.js';
import { isTerminalCommandStatus } from '../core/command-result.js';
import { enqueueDefaultProfile } from '../new-beacon/trigger.js';

export interface DriftCheckDeps {
  commands: BeaconCommands;
  memory: FleetMemory;
  profiles: ProfileStore;
  queue: RequestQueue;
  clock: Clock;
  beaconTag: { key: string; value: string };
  defaultProfile: string;
  verifyDocumentName: string;
  /** `none`, or an FNMS URL the verify document requests through the proxy. */
  checkEndpoint: string;
  log?: Log;
}

export interface DriftPass {
  passId: string;
  sentAt: string;
  commandIds: string[];
}

export interface DriftCheckResult {
  reviewed: { passId: string; inSync: string[]; reapplied: string[]; unknown: Array<{ instanceId: string; reason: string }> } | null;
  sent: DriftPass;
}

export const LAST_PASS_KEY = 'drift#last-pass';

export function createDriftCheckHandler(deps: DriftCheckDeps) {
  const logger = deps.log ?? silentLog;

  async function review(pass: DriftPass): Promise<NonNullable<DriftCheckResult['reviewed']>> {
    const reviewed = { passId: pass.passId, inSync: [] as string[], reapplied: [] as string[], unknown: [] as Array<{ instanceId: string; reason: string }> };
    for (const commandId of pass.commandIds) {
      for (const { instanceId, status } of await deps.commands.listInvocations(commandId)) {
        if (!isTerminalCommandStatus(status)) {
          reviewed.unknown.push({ instanceId, reason: `verify still ${status}` });
          continue;
        }
        const invocation = await deps.commands.getInvocation(commandId, instanceId);
        const verdict = judgeResult(invocation?.stdout);
        if (verdict.status === 'ok') reviewed.inSync.push(instanceId);
        else if (verdict.status === 'unparseable' || verdict.status === 'not-run') reviewed.unknown.push({ instanceId, reason: `${status}: ${verdict.reasons.join('; ')}` });
        else {
          await enqueueDefaultProfile(deps, instanceId, `drift-${pass.passId}-${instanceId}`, 'drift');
          reviewed.reapplied.push(instanceId);
        }
      }
    }
    return reviewed;
  }

  async function sendPass(): Promise<DriftPass> {
    const sentAt = deps.clock.now().toISOString();
    const passId = sentAt.replace(/[-:]/g, '').slice(0, 13);
    const profile = await deps.profiles.getProfile(deps.defaultProfile);
    if (!profile) throw new Error(`the default profile "${deps.defaultProfile}" does not exist; the drift check has nothing to compare with`);
    const { request } = buildRequestFromProfile(profile, { kind: 'tag', ...deps.beaconTag }, `drift-pass-${passId}`);
    const parameters = { ...documentParameters(renderDesiredState(request)), [DOCUMENT_PARAMETERS.checkEndpoint.name]: [deps.checkEndpoint] };
    const online = (await deps.commands.findManagedInstances({ tag: deps.beaconTag }))
      .filter((instance) => instance.pingStatus === 'Online' && (instance.platformType ?? '').toLowerCase() === 'windows')
      .map((instance) => instance.instanceId)
      .sort();
    const commandIds: string[] = [];
    for (let start = 0; start < online.length; start += LIMITS.maxInstanceIds) {
      commandIds.push(await deps.commands.sendCommand(online.slice(start, start + LIMITS.maxInstanceIds), deps.verifyDocumentName, parameters, { comment: `beacon-proxy drift pass ${passId}` }));
    }
    return { passId, sentAt, commandIds };
  }

  return async function driftCheck(): Promise<DriftCheckResult> {
    const last = (await deps.memory.getValue(LAST_PASS_KEY)) as DriftPass | null;
    const reviewed = last ? await review(last) : null;
    const sent = await sendPass();
    await deps.memory.putValue(LAST_PASS_KEY, { ...sent });
    logger.info('drift pass', { reviewed, sent });
    return { reviewed, sent };
  };
}

export const handler = lambdaEntry(() =>
  createDriftCheckHandler({
    commands: awsSsm.beaconCommands(),
    memory: awsDynamo.fleetMemory(),
    profiles: awsSsm.profileStore(),
    queue: awsSqs.requestQueue(),
    clock: awsSdk.clock,
    beaconTag: awsConfig.beaconTag(),
    defaultProfile: env(ENV.defaultProfile),
    verifyDocumentName: awsConfig.documentNames().verify,
    checkEndpoint: optionalEnv(ENV.verifyCheckEndpoint) ?? 'none',
    log,
  }),
);
