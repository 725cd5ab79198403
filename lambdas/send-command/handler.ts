/**
 * SendConfigure / SendRollback: SendCommand of this stack's beacon document. The configure document gets
 * the desired state rendered from the request (data, never script text); rollback gets the capture id,
 * which is the request id.
 */
import { documentParameters, renderDesiredState } from '../core/desired-state.js';
import { DOCUMENT_PARAMETERS, type BeaconDocumentKind } from '../core/document-contract.js';
import type { BeaconCommands, Clock, RequestStore } from '../core/ports.js';
import { parseRequest } from '../core/request.js';
import type { SendResult } from '../workflow/state.js';
import * as awsConfig from '../aws/clients/config.js';
import * as awsDynamo from '../aws/clients/dynamo.js';
import * as awsSdk from '../aws/clients/sdk.js';
import * as awsSsm from '../aws/clients/ssm.js';
import { ENV } from '../aws/env-names.js';
import { lambdaEntry, optionalEnv } from '../aws/runtime.js';

export interface SendCommandDeps {
  commands: BeaconCommands;
  store: RequestStore;
  clock: Clock;
  /** The deployed document names (stack-unique). */
  documentNames: Record<BeaconDocumentKind, string>;
  /** The stack's FNMS probe URL for configure runs (a request's own probeUrl wins); none when absent. */
  probeUrl?: string | null;
}

export type SendCommandEvent =
  | { document: 'configure'; requestId: string; instanceId: string; request: Record<string, unknown> }
  /** A dry run's plan: the read-only verify document against the same desired state. */
  | { document: 'verify'; requestId: string; instanceId: string; request: Record<string, unknown> }
  | { document: 'rollback'; requestId: string; instanceId: string; captureId: string };

export function createSendCommandHandler(deps: SendCommandDeps) {
  return async function sendCommand(event: SendCommandEvent): Promise<SendResult> {
    const documentName = deps.documentNames[event.document];
    const at = deps.clock.now().toISOString();
    let parameters: Record<string, string[]>;
    const audit: Record<string, unknown> = { documentName };
    if (event.document === 'configure') {
      const request = parseRequest(event.request);
      if (request.dryRun) throw new Error(`request ${request.requestId} is a dry run; a dry run never sends a document`);
      parameters = documentParameters(renderDesiredState(request, { probeUrl: deps.probeUrl ?? null }));
      if (request.crl.disable) {
        await deps.store.appendAudit({ requestId: event.requestId, instanceId: event.instanceId, at, event: 'crl.disabled', detail: { reason: request.crl.reason } });
      }
    } else if (event.document === 'verify') {
      const request = parseRequest(event.request);
      parameters = { ...documentParameters(renderDesiredState(request)), [DOCUMENT_PARAMETERS.checkEndpoint.name]: ['none'] };
    } else {
      if (!DOCUMENT_PARAMETERS.captureId.pattern.test(event.captureId)) throw new Error(`capture id ${event.captureId} does not match the document's pattern`);
      parameters = { [DOCUMENT_PARAMETERS.captureId.name]: [event.captureId] };
      audit.captureId = event.captureId;
    }
    const commandId = await deps.commands.sendCommand([event.instanceId], documentName, parameters, `beacon-proxy ${event.document} ${event.requestId}`.slice(0, 100));
    await deps.store.putBeaconStatus({ requestId: event.requestId, instanceId: event.instanceId, state: 'sent', updatedAt: at, commandId });
    await deps.store.appendAudit({ requestId: event.requestId, instanceId: event.instanceId, at, event: `${event.document}.sent`, detail: { ...audit, commandId } });
    return { commandId, documentName, sentAt: at };
  };
}

export const handler = lambdaEntry(() =>
  createSendCommandHandler({
    commands: awsSsm.beaconCommands(),
    store: awsDynamo.requestStore(),
    clock: awsSdk.clock,
    documentNames: awsConfig.documentNames(),
    probeUrl: optionalEnv(ENV.endpointProbeUrl) ?? null,
  }),
);
