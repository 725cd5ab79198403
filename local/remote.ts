/**
 * The operator CLI against a deployed stack: `submit`, `plan`, `status` and `redrive` with `--stack <name>`.
 * Addresses come from the stack's outputs (CloudFormation DescribeStacks); API calls are signed with the
 * caller's AWS credentials (the SDK's default chain: environment, profile, SSO, instance role) using
 * Signature Version 4 for `execute-api`; the DLQ redrive is an SQS message move task.
 */
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { CloudFormationClient, DescribeStacksCommand } from '@aws-sdk/client-cloudformation';
import { GetQueueAttributesCommand, ListMessageMoveTasksCommand, type ListMessageMoveTasksResultEntry, SQSClient, StartMessageMoveTaskCommand } from '@aws-sdk/client-sqs';
import { defaultProvider } from '@aws-sdk/credential-provider-node';
import { Sha256 } from '@smithy/core/checksum';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';
import type { DiffEntry } from '../lambdas/core/change-diff.js';
import { renderBeaconChanges } from '../lambdas/core/change-summary.js';
import { rolloutStatusLines } from '../lambdas/core/rollout-summary.js';
import { type Caller, describeCaller } from '../lambdas/core/caller.js';
import type { ErrorBody } from '../lambdas/core/errors.js';
import { TERMINAL_BEACON_STATES, type BeaconState, type RolloutRecord } from '../lambdas/core/ports.js';
import { STACK_OUTPUTS, type StackOutputKey } from '../infra/stack-outputs.js';

/** Exit codes, the same as the local commands: 0 done, 1 failure, 2 the request was refused. */
export const REMOTE_EXIT = { ok: 0, failure: 1, refused: 2 } as const;

export interface RemoteIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** Redraw the watch view in place (a terminal) or print each new view (a pipe, a log). */
  isTTY?: boolean;
}

export interface AwsTarget {
  region?: string;
  profile?: string;
}

/** The AWS edges, replaceable in tests (aws-sdk-client-mock mocks the clients these build). */
export interface RemoteDeps {
  cloudFormation(target: AwsTarget): CloudFormationClient;
  sqs(target: AwsTarget): SQSClient;
  credentials(target: AwsTarget): AwsCredentialIdentityProvider;
  sleep(ms: number): Promise<void>;
  now(): Date;
}

export const defaultRemoteDeps: RemoteDeps = {
  cloudFormation: (target) => new CloudFormationClient({ ...(target.region ? { region: target.region } : {}), ...(target.profile ? { profile: target.profile } : {}) }),
  sqs: (target) => new SQSClient({ ...(target.region ? { region: target.region } : {}), ...(target.profile ? { profile: target.profile } : {}) }),
  credentials: (target) => defaultProvider(target.profile ? { profile: target.profile } : {}),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  now: () => new Date(),
};

/** A failure the CLI reports: exit 2 with the product's error JSON on stdout, or exit 1 with a message on stderr. */
export class RemoteError extends Error {
  constructor(
    message: string,
    readonly exitCode: 1 | 2 = REMOTE_EXIT.failure,
    readonly body?: ApiErrorBody,
  ) {
    super(message);
  }
}

/** The stack's outputs by key. */
export async function stackOutputs(deps: RemoteDeps, stackName: string, target: AwsTarget): Promise<{ outputs: Record<string, string>; region: string }> {
  const client = deps.cloudFormation(target);
  let region: string;
  try {
    region = await client.config.region();
  } catch {
    throw new RemoteError('no AWS region: pass --region, or set AWS_REGION or a region in your AWS profile');
  }
  let response;
  try {
    response = await client.send(new DescribeStacksCommand({ StackName: stackName }));
  } catch (error) {
    const e = error as { name?: string; message?: string };
    if (e.name === 'ValidationError' && /does not exist/i.test(e.message ?? '')) {
      throw new RemoteError(`no stack "${stackName}" in ${region}: check --stack, and --region or AWS_REGION`);
    }
    if (e.name === 'CredentialsProviderError' || /credential/i.test(e.name ?? '')) {
      throw new RemoteError(`no AWS credentials: ${e.message}. Sign in (aws sso login, or AWS_PROFILE / AWS_ACCESS_KEY_ID) and try again`);
    }
    throw new RemoteError(`cannot read stack "${stackName}" in ${region}: ${e.name ?? 'Error'}: ${e.message ?? String(error)}`);
  }
  const stack = response.Stacks?.[0];
  if (!stack) throw new RemoteError(`no stack "${stackName}" in ${region}`);
  const outputs: Record<string, string> = {};
  for (const output of stack.Outputs ?? []) if (output.OutputKey && output.OutputValue) outputs[output.OutputKey] = output.OutputValue;
  return { outputs, region };
}

function requireOutput(outputs: Record<string, string>, key: StackOutputKey, stackName: string): string {
  const value = outputs[key];
  if (!value) throw new RemoteError(`stack "${stackName}" has no output ${key}: is it a beacon-proxy stack, deployed from this version (npx cdk deploy)?`);
  return value;
}

/** The region an execute-api URL lives in, else the region the SDK resolved. */
export function apiRegion(apiUrl: string, fallback: string): string {
  return /\.execute-api\.([a-z0-9-]+)\.amazonaws\.com(\.cn)?$/.exec(new URL(apiUrl).hostname)?.[1] ?? fallback;
}

export interface ApiResponse {
  status: number;
  body: unknown;
}

/** One API call signed with SigV4 (service execute-api) and sent exactly as signed. */
export async function signedApiCall(
  url: URL,
  method: 'GET' | 'POST',
  body: string | undefined,
  signing: { region: string; credentials: AwsCredentialIdentity | AwsCredentialIdentityProvider },
): Promise<ApiResponse> {
  const signer = new SignatureV4({ service: 'execute-api', region: signing.region, credentials: signing.credentials, sha256: Sha256, uriEscapePath: true });
  const query: Record<string, string> = {};
  url.searchParams.forEach((value, key) => (query[key] = value));
  const signed = await signer.sign({
    method,
    protocol: url.protocol,
    hostname: url.hostname,
    ...(url.port ? { port: Number(url.port) } : {}),
    path: url.pathname,
    query,
    headers: { host: url.host, accept: 'application/json', ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(body !== undefined ? { body } : {}),
  });
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise<ApiResponse>((resolve, reject) => {
    const request = send(
      { protocol: url.protocol, hostname: url.hostname, port: url.port || undefined, method, path: `${url.pathname}${url.search}`, headers: signed.headers, timeout: 30_000 },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('error', reject);
        response.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let parsed: unknown = text;
          try {
            parsed = text ? JSON.parse(text) : null;
          } catch {
            // API Gateway answers some failures with plain text: keep it as is.
          }
          resolve({ status: response.statusCode ?? 0, body: parsed });
        });
      },
    );
    request.on('timeout', () => request.destroy(new Error(`no answer from ${url.host} within 30 s`)));
    request.on('error', (error) => reject(new RemoteError(`cannot reach the API at ${url.origin}: ${error.message}`)));
    request.end(body);
  });
}

type ApiErrorBody = { error: { code: string; message: string; field: string } };

const isErrorBody = (body: unknown): body is ApiErrorBody =>
  typeof body === 'object' && body !== null && typeof (body as { error?: { code?: unknown } }).error?.code === 'string';

/** Maps an API answer that is not a success onto the CLI's exit codes. */
export function apiFailure(response: ApiResponse, what: string, permission: 'submit' | 'read'): RemoteError {
  if (isErrorBody(response.body) && response.status >= 400 && response.status < 500) {
    return new RemoteError(response.body.error.message, REMOTE_EXIT.refused, response.body);
  }
  const message = typeof response.body === 'object' && response.body !== null ? String((response.body as { message?: unknown }).message ?? JSON.stringify(response.body)) : String(response.body);
  if (response.status === 403) {
    const key = permission === 'submit' ? 'apiSubmitPrincipals' : 'apiReadPrincipals';
    return new RemoteError(`not authorized to ${what}: ${message}\nThe API admits the IAM roles named in the stack's ${key} context; sign in as one of them, or ask the stack's owner to add yours.`);
  }
  return new RemoteError(`${what} failed with HTTP ${response.status}: ${message}`);
}

export interface RemoteCall {
  apiUrl: URL;
  region: string;
  credentials: AwsCredentialIdentityProvider;
}

export async function connectApi(deps: RemoteDeps, stackName: string, target: AwsTarget): Promise<RemoteCall> {
  const { outputs, region } = await stackOutputs(deps, stackName, target);
  const apiUrl = requireOutput(outputs, STACK_OUTPUTS.apiUrl, stackName);
  const base = new URL(apiUrl.endsWith('/') ? apiUrl : `${apiUrl}/`);
  return { apiUrl: base, region: apiRegion(base.href, region), credentials: deps.credentials({ ...target, region }) };
}

export async function submitRequest(call: RemoteCall, body: string, route: 'requests' | 'plans'): Promise<unknown> {
  const response = await signedApiCall(new URL(route, call.apiUrl), 'POST', body, call);
  if (response.status >= 200 && response.status < 300) return response.body;
  throw apiFailure(response, route === 'requests' ? 'submit the request' : 'plan the request', 'submit');
}

/** POST requests/{id}/rerun: a new run of a recorded request, linked to it. */
export async function rerunRequest(call: RemoteCall, requestId: string): Promise<{ requestId: string; rerunOf: string; statusUrl: string }> {
  const response = await signedApiCall(new URL(`requests/${encodeURIComponent(requestId)}/rerun`, call.apiUrl), 'POST', '', call);
  if (response.status >= 200 && response.status < 300) return response.body as { requestId: string; rerunOf: string; statusUrl: string };
  throw apiFailure(response, 're-run the request', 'submit');
}

/** An operator's action on the stack's API (submit permission): cancel, go, or a pin confirmation. Answers its JSON. */
export async function operatorAction(call: RemoteCall, action: { kind: 'cancel'; requestId: string; rollback: boolean } | { kind: 'go'; requestId: string } | { kind: 'confirm-pin'; pinId: string }): Promise<unknown> {
  const route =
    action.kind === 'confirm-pin' ? `pins/${encodeURIComponent(action.pinId)}/confirm` : `requests/${encodeURIComponent(action.requestId)}/${action.kind}`;
  const body = action.kind === 'cancel' ? JSON.stringify({ rollback: action.rollback }) : '{}';
  const response = await signedApiCall(new URL(route, call.apiUrl), 'POST', body, call);
  if (response.status >= 200 && response.status < 300) return response.body;
  throw apiFailure(response, action.kind === 'confirm-pin' ? 'confirm the pin' : `${action.kind} the request`, 'submit');
}

export interface BeaconStatusView {
  instanceId: string;
  state: BeaconState;
  reasons?: string[];
  pinnedVersion?: string | null;
  diff?: DiffEntry[];
  restored?: DiffEntry[];
  diffOmitted?: number;
}

export interface RequestStatusView {
  requestId: string;
  state: string;
  source?: string;
  receivedAt?: string;
  instanceIds?: string[];
  error?: ErrorBody;
  /** The request as accepted (dryRun: a plan). */
  request?: { dryRun?: boolean };
  caller?: Caller;
  rerunOf?: string;
  beacons: BeaconStatusView[];
  /** The request's rollout (absent for requests recorded before rollouts, or before its workflow started). */
  rollout?: RolloutRecord | null;
}

/** The request's rollout and pin in a few lines, as the CLI prints them (indented, CLI commands). */
export function rolloutLines(rollout: RolloutRecord): string[] {
  return rolloutStatusLines(rollout, 'cli').map((line) => `  ${line}`);
}

/** The request's status, or null when the API does not know it (yet). */
export async function fetchStatus(call: RemoteCall, requestId: string): Promise<RequestStatusView | null> {
  const response = await signedApiCall(new URL(`requests/${encodeURIComponent(requestId)}`, call.apiUrl), 'GET', undefined, call);
  if (response.status === 200) return response.body as RequestStatusView;
  if (response.status === 404 && isErrorBody(response.body) && response.body.error.code === 'NOT_FOUND') return null;
  throw apiFailure(response, 'read the request', 'read');
}

const STEPS: Record<string, number> = { queued: 1, locked: 2, sent: 3 };
const isFinal = (state: string) => (TERMINAL_BEACON_STATES as readonly string[]).includes(state);

function bar(fraction: number, width = 20): string {
  const filled = Math.round(Math.max(0, Math.min(1, fraction)) * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`;
}

/**
 * Each beacon with its state and a progress bar, then the request as a whole; with `diff` (always for a plan)
 * each final beacon's changes follow, `id: before -> after` (a plan: current -> wanted, or "no change").
 */
export function renderStatus(status: RequestStatusView, options: { diff?: boolean } = {}): { text: string; final: boolean } {
  const lines: string[] = [];
  const expected = status.instanceIds ?? status.beacons.map((b) => b.instanceId);
  lines.push(`request ${status.requestId}: ${status.state}${status.source ? ` (from ${status.source}` : ''}${status.receivedAt ? `, received ${status.receivedAt})` : status.source ? ')' : ''}`);
  if (status.caller) lines.push(`  requested by ${describeCaller(status.caller)}${status.rerunOf ? `, a re-run of ${status.rerunOf}` : ''}`);
  if (status.state === 'invalid') {
    lines.push(`  refused: ${status.error ? `${status.error.code} at ${status.error.field}: ${status.error.message}` : 'see the audit trail'}`);
    return { text: `${lines.join('\n')}\n`, final: true };
  }
  if (status.state === 'no-targets' || (expected.length === 0 && (!status.rollout || status.rollout.outcome !== null))) {
    lines.push('  no beacon matched the target; nothing to do');
    return { text: `${lines.join('\n')}\n`, final: true };
  }
  if (expected.length === 0) {
    lines.push('  expanding the target: no beacon listed yet', ...(status.rollout ? rolloutLines(status.rollout) : []));
    return { text: `${lines.join('\n')}\n`, final: false };
  }
  const byId = new Map(status.beacons.map((beacon) => [beacon.instanceId, beacon]));
  const width = Math.max(...expected.map((id) => id.length));
  let finals = 0;
  const counts = new Map<string, number>();
  for (const instanceId of [...expected].sort()) {
    const beacon = byId.get(instanceId);
    const state = beacon?.state ?? 'queued';
    const final = isFinal(state);
    if (final) finals += 1;
    counts.set(state, (counts.get(state) ?? 0) + 1);
    const progress = final ? 1 : (STEPS[state] ?? 0) / 4;
    const detail = final
      ? [beacon?.pinnedVersion ? `pinned ${beacon.pinnedVersion}` : '', ...(state === 'ok' || state === 'dry-run' ? [] : (beacon?.reasons ?? []).slice(0, 1))].filter(Boolean).join('; ')
      : 'running';
    lines.push(`  ${instanceId.padEnd(width)}  ${state.padEnd(12)} ${bar(progress)}  ${detail}`.trimEnd());
  }
  const summary = [...counts.entries()].map(([state, n]) => `${n} ${state}`).join(', ');
  lines.push(`${expected.length} beacon(s): ${summary}  ${bar(finals / expected.length)} ${finals} of ${expected.length} final`);
  const plan = status.request?.dryRun === true;
  if (options.diff || plan) {
    const done = [...expected].sort().map((id) => byId.get(id)).filter((beacon): beacon is BeaconStatusView => beacon !== undefined && isFinal(beacon.state));
    if (done.length > 0) lines.push('', plan ? 'Plan (current -> wanted):' : 'Changes (before -> after):');
    for (const beacon of done) lines.push(...renderBeaconChanges(beacon));
  }
  if (status.rollout) lines.push(...rolloutLines(status.rollout));
  // A request with a rollout is final once it ended (its pin decided, confirmed or timed out), not only its beacons.
  const final = status.rollout ? status.rollout.outcome !== null : finals === expected.length;
  return { text: `${lines.join('\n')}\n`, final };
}

export interface WatchOptions {
  watch: boolean;
  intervalSeconds: number;
  timeoutMinutes: number;
  json: boolean;
  /** Each final beacon's changes after the table. */
  diff?: boolean;
}

/** Shows the status once, or (watching) until every beacon is final. */
/** How long a watch waits for a request the intake has not recorded yet (it may have been dead-lettered). */
export const NOT_RECORDED_GRACE_MINUTES = 5;

export async function showStatus(call: RemoteCall, requestId: string, options: WatchOptions, io: RemoteIo, deps: RemoteDeps): Promise<number> {
  const started = deps.now().getTime();
  const deadline = started + options.timeoutMinutes * 60_000;
  let previous = '';
  let previousLines = 0;
  for (;;) {
    const status = await fetchStatus(call, requestId);
    let text: string;
    let final = false;
    if (status === null) {
      const waitedTooLong = deps.now().getTime() - started >= NOT_RECORDED_GRACE_MINUTES * 60_000;
      if (!options.watch || waitedTooLong) {
        const message = waitedTooLong
          ? `no request ${requestId} after ${NOT_RECORDED_GRACE_MINUTES} minutes: the intake has not recorded it; look at the dead-letter queue (dashboard) and the intake's log group`
          : `no request ${requestId}; it may still be in the queue, try again in a few seconds`;
        io.stdout(`${JSON.stringify({ error: { code: 'NOT_FOUND', message, field: 'id' } }, null, 2)}\n`);
        return REMOTE_EXIT.refused;
      }
      text = `request ${requestId}: not recorded yet (waiting for the intake)\n`;
    } else if (options.json) {
      text = `${JSON.stringify(status, null, 2)}\n`;
      final = renderStatus(status).final;
    } else {
      ({ text, final } = renderStatus(status, { diff: options.diff === true }));
    }
    if (text !== previous || !options.watch) {
      if (io.isTTY && previousLines > 0) io.stdout(`\x1b[${previousLines}A\x1b[J`);
      io.stdout(text);
      previous = text;
      previousLines = text.split('\n').length - 1;
    }
    if (status?.state === 'invalid') {
      if (status.error) io.stdout(`${JSON.stringify({ error: status.error }, null, 2)}\n`);
      return REMOTE_EXIT.refused;
    }
    if (!options.watch || final) return REMOTE_EXIT.ok;
    if (deps.now().getTime() >= deadline) {
      io.stderr(`beacon-proxy status: not every beacon is final after ${options.timeoutMinutes} minute(s); run status again later\n`);
      return REMOTE_EXIT.failure;
    }
    await deps.sleep(options.intervalSeconds * 1000);
  }
}

const MOVE_TASK_FINAL = new Set(['COMPLETED', 'FAILED', 'CANCELLED']);

/** Moves the dead-lettered requests back to the intake queue and reports what moved. */
export async function redriveDeadLetters(
  deps: RemoteDeps,
  stackName: string,
  target: AwsTarget,
  options: { maxPerSecond?: number; pollSeconds: number },
  io: RemoteIo,
): Promise<number> {
  const { outputs, region } = await stackOutputs(deps, stackName, target);
  const sourceArn = requireOutput(outputs, STACK_OUTPUTS.deadLetterQueueArn, stackName);
  const destinationArn = requireOutput(outputs, STACK_OUTPUTS.intakeQueueArn, stackName);
  const dlqUrl = requireOutput(outputs, STACK_OUTPUTS.deadLetterQueueUrl, stackName);
  const sqs = deps.sqs({ ...target, region });
  const attributes = await sqs.send(new GetQueueAttributesCommand({ QueueUrl: dlqUrl, AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'] }));
  const waiting = Number(attributes.Attributes?.ApproximateNumberOfMessages ?? 0);
  const inFlight = Number(attributes.Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0);
  if (waiting === 0) {
    io.stdout(`nothing to redrive: the dead-letter queue of ${stackName} is empty${inFlight > 0 ? ` (${inFlight} message(s) are being read right now; try again in a minute)` : ''}\n`);
    return REMOTE_EXIT.ok;
  }
  io.stderr(`beacon-proxy redrive: moving about ${waiting} dead-lettered request(s) back to the intake queue of ${stackName}...\n`);
  let taskHandle: string | undefined;
  try {
    const started = await sqs.send(
      new StartMessageMoveTaskCommand({ SourceArn: sourceArn, DestinationArn: destinationArn, ...(options.maxPerSecond ? { MaxNumberOfMessagesPerSecond: options.maxPerSecond } : {}) }),
    );
    taskHandle = started.TaskHandle;
  } catch (error) {
    const e = error as { name?: string; message?: string };
    throw new RemoteError(`cannot start the redrive: ${e.name ?? 'Error'}: ${e.message ?? String(error)}${/running/i.test(e.message ?? '') ? ' (a move task is already running on this queue; wait for it, then run redrive again)' : ''}`);
  }
  let task: ListMessageMoveTasksResultEntry | undefined;
  let lastMoved = -1;
  for (;;) {
    const listed = await sqs.send(new ListMessageMoveTasksCommand({ SourceArn: sourceArn, MaxResults: 10 }));
    // The newest task comes first; a finished task no longer shows its handle.
    task = listed.Results?.find((entry) => entry.TaskHandle !== undefined && entry.TaskHandle === taskHandle) ?? listed.Results?.[0];
    const moved = task?.ApproximateNumberOfMessagesMoved ?? 0;
    if (moved !== lastMoved) {
      io.stderr(`  ${task?.Status ?? 'RUNNING'}: ${moved} of ${task?.ApproximateNumberOfMessagesToMove ?? waiting} moved\n`);
      lastMoved = moved;
    }
    if (task?.Status && MOVE_TASK_FINAL.has(task.Status)) break;
    await deps.sleep(options.pollSeconds * 1000);
  }
  const report = {
    stack: stackName,
    status: task.Status,
    moved: task.ApproximateNumberOfMessagesMoved ?? 0,
    toMove: task.ApproximateNumberOfMessagesToMove ?? waiting,
    from: sourceArn,
    to: destinationArn,
    ...(task.FailureReason ? { failureReason: task.FailureReason } : {}),
  };
  io.stdout(`${JSON.stringify(report, null, 2)}\n`);
  if (task.Status !== 'COMPLETED') {
    io.stderr(`beacon-proxy redrive: the move task ended ${task.Status}${task.FailureReason ? `: ${task.FailureReason}` : ''}; the messages not moved are still in the dead-letter queue\n`);
    return REMOTE_EXIT.failure;
  }
  io.stderr(`beacon-proxy redrive: moved ${report.moved} request(s); the intake processes them again (see the dashboard, or beacon-proxy status <requestId>)\n`);
  return REMOTE_EXIT.ok;
}
