/**
 * ChatOps webhook (Lambda function URL, no IAM: every request is authenticated by its signature here).
 * POST /slack: Slack slash command, signing secret v0 with a 5-minute window, answered within 3 s; the
 * outcome follows on response_url from the workflow's NotifyRequester step (the queue carries it).
 * POST /teams: Teams outgoing webhook, HMAC of the body, replay refused by activity id.
 * A bad signature is 401 and nothing is queued or read.
 */
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { renderDesiredState } from '../core/desired-state.js';
import {
  type ChatAllowlist,
  type ChatCaller,
  type ChatCommand,
  type ChatReply,
  type SlackSlashCommand,
  type TeamsActivity,
  ChatAllowlistSchema,
  buildRequestFromProfile,
  chatStatusView,
  chatRequestId,
  isAllowed,
  parseChatCommand,
  parseSlackSlashCommand,
  parseTeamsActivity,
  replyAccepted,
  replyError,
  replyHelp,
  replyPlan,
  replyStatus,
  toSlackMessage,
  toTeamsMessage,
  verifySlackSignature,
  verifyTeamsSignature,
} from '../core/chatops/index.js';
import { beaconCommandMessage } from '../core/beacon-commands.js';
import { type Caller, CallerSchema, describeCaller } from '../core/caller.js';
import { isRequestError } from '../core/errors.js';
import type { OperatorCommand } from '../core/rollout-control.js';
import { type Clock, type FleetMemory, type Log, type ProfileStore, type ReplyTo, type RequestQueue, type RequestStore, type SecretSource, silentLog } from '../core/ports.js';
import * as awsDynamo from '../aws/clients/dynamo.js';
import * as awsSdk from '../aws/clients/sdk.js';
import * as awsSecrets from '../aws/clients/secrets.js';
import * as awsSqs from '../aws/clients/sqs.js';
import * as awsSsm from '../aws/clients/ssm.js';
import { ENV } from '../aws/env-names.js';
import { CHAT_REPLAY_KEY_PREFIX } from '../aws/table-keys.js';
import { env, lambdaEntry, log } from '../aws/runtime.js';

export interface ChatOpsDeps {
  secrets: SecretSource;
  slackSecretName: string;
  teamsSecretName: string;
  allowlist: ChatAllowlist;
  profiles: ProfileStore;
  queue: RequestQueue;
  store: RequestStore;
  /** Replay memory (conditional writes with a TTL). */
  memory: FleetMemory;
  clock: Clock;
  log?: Log;
}

/** Teams activity ids are remembered this long; Slack signatures only need their 5-minute window. */
const REPLAY_TTL_SECONDS = { teams: 24 * 60 * 60, slack: 10 * 60 } as const;

function header(event: APIGatewayProxyEventV2, name: string): string | undefined {
  const wanted = name.toLowerCase();
  for (const [key, value] of Object.entries(event.headers ?? {})) if (key.toLowerCase() === wanted) return value;
  return undefined;
}

const rawBody = (event: APIGatewayProxyEventV2): Buffer => Buffer.from(event.body ?? '', event.isBase64Encoded ? 'base64' : 'utf8');

const respond = (statusCode: number, body: unknown): APIGatewayProxyStructuredResultV2 => ({ statusCode, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
const unauthorized = () => respond(401, { error: { code: 'UNAUTHORIZED', message: 'signature verification failed', field: 'headers' } });

/** The caller of a signed slash command: team, user id and name as Slack sent them (cut to the caller's limits). */
export function slackCaller(command: SlackSlashCommand): Caller {
  const parsed = CallerSchema.safeParse({ kind: 'slack', teamId: clip(command.teamId, 64), userId: clip(command.userId, 64), userName: clip(command.userName, 256) });
  return parsed.success ? parsed.data : { kind: 'slack', teamId: null, userId: 'unreadable', userName: null };
}

/** The caller of a signed Teams activity: AAD object id and name. */
export function teamsCaller(activity: TeamsActivity): Caller {
  const parsed = CallerSchema.safeParse({ kind: 'teams', aadObjectId: clip(activity.aadObjectId, 64), userId: clip(activity.userId, 256), name: clip(activity.userName, 256) });
  return parsed.success ? parsed.data : { kind: 'teams', aadObjectId: null, userId: 'unreadable', name: null };
}

function clip(value: string | null, max: number): string | null {
  const cleaned = value?.replace(/[\x00-\x1f\x7f]/g, '').slice(0, max) ?? null;
  return cleaned && cleaned.length > 0 ? cleaned : null;
}

export function createChatOpsHandler(deps: ChatOpsDeps) {
  const logger = deps.log ?? silentLog;

  /** Runs a verified, allowlisted command. `apply` only enqueues, so the answer stays within Slack's 3 s. */
  async function run(command: ChatCommand, requestId: string, replyTo: ReplyTo | undefined, caller: Caller): Promise<ChatReply> {
    switch (command.kind) {
      case 'cancel':
      case 'go':
      case 'confirm-pin': {
        // Applied by the intake (this internet-facing function writes no request state); the thread hears the result.
        // The caller identity names who acted (the intake records the caller SQS vouches for, as for any request).
        const by = describeCaller(caller);
        const operatorCommand: OperatorCommand =
          command.kind === 'cancel' ? { action: 'cancel', requestId: command.requestId, rollback: command.rollback, by } : command.kind === 'go' ? { action: 'go', requestId: command.requestId, by } : { action: 'confirm-pin', pinId: command.pinId, by };
        await deps.queue.enqueueCommand(operatorCommand, { source: 'chatops', caller, ...(replyTo ? { replyTo } : {}) });
        const target = command.kind === 'confirm-pin' ? command.pinId : command.requestId;
        return { kind: 'accepted', title: `${command.kind} ${target}: received`, lines: [`Recorded as ${by}.`, replyTo ? 'The result follows in this thread.' : `See: status ${command.kind === 'confirm-pin' ? command.pinId.replace(/^pin-/, '') : command.requestId}`] };
      }
      case 'help':
        return replyHelp();
      case 'status': {
        const status = await deps.store.getRequestStatus(command.requestId);
        if (!status) return replyError({ code: 'NOT_FOUND', message: `no request ${command.requestId} (yet): it may still be in the queue` });
        return replyStatus(chatStatusView(command.requestId, status));
      }
      case 'plan':
      case 'apply': {
        const profile = await deps.profiles.getProfile(command.profile);
        if (!profile) return replyError({ code: 'INVALID_PROFILE', message: `there is no profile "${command.profile}"; ask an administrator for the profile names` });
        const { input, request } = buildRequestFromProfile(profile, command.target, requestId);
        if (command.kind === 'plan') return replyPlan(request, renderDesiredState(request), { profile: command.profile });
        await deps.queue.enqueue(input as unknown as Record<string, unknown>, { source: 'chatops', caller, ...(replyTo ? { replyTo } : {}) });
        return replyAccepted(request.requestId, { target: request.target, profile: command.profile });
      }
      case 'rollback':
      case 'retry': {
        // Queued like apply: the intake decides and starts it (this function starts nothing itself).
        await deps.queue.enqueue(beaconCommandMessage(command.kind, command.instanceId, requestId, caller), { source: 'chatops', caller, ...(replyTo ? { replyTo } : {}) });
        return replyAccepted(requestId, { target: { kind: 'instances', instanceIds: [command.instanceId] } });
      }
    }
  }

  async function answer(text: string, caller: ChatCaller, who: Caller, requestId: string, replyTo: ReplyTo | undefined): Promise<ChatReply> {
    if (!isAllowed(caller, deps.allowlist)) {
      logger.warn('chat caller not allowlisted', { ...caller });
      return replyError({ code: 'NOT_ALLOWED', message: 'you or this channel may not run beacon-proxy commands; ask an administrator to add you to the allowlist' });
    }
    const parsed = parseChatCommand(text);
    if (!parsed.ok) return replyError(parsed.error);
    try {
      return await run(parsed.command, requestId, replyTo, who);
    } catch (error) {
      if (isRequestError(error)) return replyError(error.toJSON().error);
      throw error;
    }
  }

  async function slack(event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> {
    const body = rawBody(event);
    const timestamp = header(event, 'x-slack-request-timestamp');
    const signature = header(event, 'x-slack-signature');
    const check = verifySlackSignature({ signingSecret: await deps.secrets.getSecret(deps.slackSecretName), timestamp, signature, body, now: deps.clock.now() });
    if (!check.ok) {
      logger.warn('Slack signature refused', { reason: check.reason });
      return unauthorized();
    }
    if (!(await deps.memory.markOnce(`${CHAT_REPLAY_KEY_PREFIX}slack#${signature}`, REPLAY_TTL_SECONDS.slack))) {
      return respond(200, toSlackMessage(replyError({ code: 'REPLAYED', message: 'this command was already received' })));
    }
    const command = parseSlackSlashCommand(body.toString('utf8'));
    if (!command) return respond(400, { error: { code: 'INVALID_REQUEST', message: 'not a Slack slash command', field: '$' } });
    const requestId = chatRequestId('slack', command.triggerId ?? `${timestamp}:${signature}`);
    // The command's channel (chat.postMessage with a bot token) and when it was issued (the response_url takes posts for 30 minutes).
    const replyTo: ReplyTo | undefined = command.responseUrl ? { kind: 'slack', responseUrl: command.responseUrl, channelId: command.channelId, issuedAt: deps.clock.now().toISOString() } : undefined;
    const who = slackCaller(command);
    const reply = await answer(command.text, { userId: command.userId, channelId: command.channelId, userName: command.userName }, who, requestId, replyTo);
    return respond(200, toSlackMessage(reply));
  }

  async function teams(event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> {
    const body = rawBody(event);
    const check = verifyTeamsSignature({ securityToken: await deps.secrets.getSecret(deps.teamsSecretName), body, authorizationHeader: header(event, 'authorization') });
    if (!check.ok) {
      logger.warn('Teams signature refused', { reason: check.reason });
      return unauthorized();
    }
    const activity = parseTeamsActivity(body.toString('utf8'));
    if (!activity) return respond(400, { error: { code: 'INVALID_REQUEST', message: 'not a Teams message activity', field: '$' } });
    // Teams signs no timestamp: a captured request could be replayed, so each activity id is accepted once.
    if (!(await deps.memory.markOnce(`${CHAT_REPLAY_KEY_PREFIX}teams#${activity.messageId}`, REPLAY_TTL_SECONDS.teams))) {
      return respond(200, toTeamsMessage(replyError({ code: 'REPLAYED', message: 'this message was already received' })));
    }
    const reply = await answer(activity.text, { userId: activity.userId, channelId: activity.channelId, userName: activity.userName }, teamsCaller(activity), chatRequestId('teams', activity.messageId), undefined);
    return respond(200, toTeamsMessage(reply));
  }

  return async function chatOps(event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> {
    if (event.requestContext?.http?.method !== 'POST') return respond(405, { error: { code: 'INVALID_REQUEST', message: 'POST only', field: '$' } });
    switch (event.rawPath) {
      case '/slack':
        return slack(event);
      case '/teams':
        return teams(event);
      default:
        return respond(404, { error: { code: 'NOT_FOUND', message: 'POST /slack or /teams', field: '$' } });
    }
  };
}

export function allowlistFrom(json: string): ChatAllowlist {
  return ChatAllowlistSchema.parse(JSON.parse(json));
}

export const handler = lambdaEntry(() => {
  const slackSecretName = env(ENV.slackSecretName);
  const teamsSecretName = env(ENV.teamsSecretName);
  return createChatOpsHandler({
    secrets: awsSecrets.secretSource([slackSecretName, teamsSecretName]),
    slackSecretName,
    teamsSecretName,
    allowlist: allowlistFrom(env(ENV.chatAllowlist)),
    profiles: awsSsm.profileStore(),
    queue: awsSqs.requestQueue(),
    store: awsDynamo.requestStore(),
    memory: awsDynamo.fleetMemory(),
    clock: awsSdk.clock,
    log,
  });
});
