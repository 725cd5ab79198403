/**
 * SendPlan / SendConfigure / SendRollback: SendCommand of this stack's beacon document. The configure and
 * verify documents get the desired state rendered from the request (data, never script text); rollback gets
 * the capture id, which is the request id. The command id is returned before anything else is written
 * (the poll step records it), and a retried send first looks for the command an earlier attempt sent (by
 * its comment, unique per execution, document and attempt), so a send step that fails or times out after
 * SendCommand never leaves a command unsupervised, nor sends it twice.
 */
import { documentParameters, renderDesiredState } from '../core/desired-state.js';
import { DOCUMENT_PARAMETERS, type BeaconDocumentKind } from '../core/document-contract.js';
import type { BeaconCommands, Clock, RequestStore } from '../core/ports.js';
import { parseRequest } from '../core/request.js';
import type { WorkflowTiming } from '../core/timing.js';
import type { CommandRef } from '../workflow/state.js';
import * as awsConfig from '../aws/clients/config.js';
import * as awsDynamo from '../aws/clients/dynamo.js';
import * as awsSdk from '../aws/clients/sdk.js';
import * as awsSsm from '../aws/clients/ssm.js';
import { ENV } from '../aws/env-names.js';
import { workflowTiming } from '../aws/clients/timing.js';
import { lambdaEntry, optionalEnv } from '../aws/runtime.js';

export interface SendCommandDeps {
  commands: BeaconCommands;
  store: RequestStore;
  clock: Clock;
  /** The deployed document names (stack-unique). */
  documentNames: Record<BeaconDocumentKind, string>;
  timing: Pick<WorkflowTiming, 'deliveryTimeoutSeconds'>;
  /** The stack's FNMS probe URL for configure runs (a request's own probeUrl wins); none when absent. */
  probeUrl?: string | null;
}

interface SendCommon {
  requestId: string;
  instanceId: string;
  /** SendCommand Comment: unique per execution, document and attempt (built by the state machine). */
  comment: string;
}

export type SendCommandEvent =
  | (SendCommon & { document: 'configure'; request: Record<string, unknown> })
  /** A dry run's plan: the read-only verify document against the same desired state. */
  | (SendCommon & { document: 'verify'; request: Record<string, unknown> })
  | (SendCommon & { document: 'rollback'; captureId: string });

export function createSendCommandHandler(deps: SendCommandDeps) {
  return async function sendCommand(event: SendCommandEvent): Promise<CommandRef> {
    const documentName = deps.documentNames[event.document];
    let parameters: Record<string, string[]>;
    if (event.document === 'configure') {
      const request = parseRequest(event.request);
      if (request.dryRun) throw new Error(`request ${request.requestId} is a dry run; a dry run never sends a document`);
      parameters = documentParameters(renderDesiredState(request, { probeUrl: deps.probeUrl ?? null }));
      if (request.crl.disable) {
        // Written before the command exists: nothing after SendCommand may fail this step.
        await deps.store.appendAudit({ requestId: event.requestId, instanceId: event.instanceId, at: deps.clock.now().toISOString(), event: 'crl.disabled', detail: { reason: request.crl.reason } });
      }
    } else if (event.document === 'verify') {
      const request = parseRequest(event.request);
      parameters = { ...documentParameters(renderDesiredState(request)), [DOCUMENT_PARAMETERS.checkEndpoint.name]: ['none'] };
    } else {
      if (!DOCUMENT_PARAMETERS.captureId.pattern.test(event.captureId)) throw new Error(`capture id ${event.captureId} does not match the document's pattern`);
      parameters = { [DOCUMENT_PARAMETERS.captureId.name]: [event.captureId] };
    }
    const kind: BeaconDocumentKind = event.document;
    const earlier = await deps.commands.findCommand(event.instanceId, documentName, event.comment);
    if (earlier) return { kind, commandId: earlier, comment: event.comment, sentAt: null, reused: true };
    const sentAt = deps.clock.now().toISOString();
    const commandId = await deps.commands.sendCommand([event.instanceId], documentName, parameters, {
      comment: event.comment,
      deliveryTimeoutSeconds: deps.timing.deliveryTimeoutSeconds,
    });
    return { kind, commandId, comment: event.comment, sentAt };
  };
}

export const handler = lambdaEntry(() =>
  createSendCommandHandler({
    commands: awsSsm.beaconCommands(),
    store: awsDynamo.requestStore(),
    clock: awsSdk.clock,
    documentNames: awsConfig.documentNames(),
    timing: workflowTiming(),
    probeUrl: optionalEnv(ENV.endpointProbeUrl) ?? null,
  }),
);
