import type { Target } from '../request.js';

/** Why a webhook signature was refused. Never more detail than this reaches the caller. */
export type SignatureFailure =
  /** A header or the secret is missing or empty. */
  | 'missing'
  /** The timestamp is not a whole number of seconds. */
  | 'malformed-timestamp'
  /** The timestamp is more than the tolerance away from now (replay window). */
  | 'stale-timestamp'
  /** The signature header is not `v0=<64 hex>` (Slack) or `HMAC <base64 of 32 bytes>` (Teams). */
  | 'malformed-signature'
  /** The security token is not base64 (Teams). */
  | 'malformed-secret'
  /** Well-formed but wrong: the body, timestamp or secret differs. */
  | 'mismatch';

/** Outcome of a signature check; checks never throw. */
export type SignatureCheck = { ok: true } | { ok: false; reason: SignatureFailure };

/** A chat command after parsing. */
export type ChatCommand =
  | { kind: 'apply'; target: Target; profile: string }
  | { kind: 'plan'; target: Target; profile: string }
  | { kind: 'status'; requestId: string }
  /** Per-beacon day-2 commands (lambdas/core/beacon-commands.ts), queued to the intake like apply. */
  | { kind: 'rollback' | 'retry'; instanceId: string }
  /** Operators' actions on a running request (applied by the intake, answered in the thread). */
  | { kind: 'cancel'; requestId: string; rollback: boolean }
  | { kind: 'go'; requestId: string }
  | { kind: 'confirm-pin'; pinId: string }
  | { kind: 'help' };

/** Why a command was refused; the message tells the user what to type. */
export type ChatCommandErrorCode =
  | 'EMPTY_COMMAND'
  | 'TOO_LONG'
  | 'UNKNOWN_COMMAND'
  | 'MISSING_ARGUMENT'
  | 'TOO_MANY_ARGUMENTS'
  | 'INVALID_TARGET'
  | 'INVALID_PROFILE'
  | 'INVALID_REQUEST_ID';

export interface ChatCommandError {
  code: ChatCommandErrorCode;
  message: string;
}

export type ChatCommandResult = { ok: true; command: ChatCommand } | { ok: false; error: ChatCommandError };

/** Who sent a command, and where. Slack: `U…` user and `C…`/`G…`/`D…` channel ids; Teams: AAD object id and channel id. */
export interface ChatCaller {
  userId: string;
  channelId: string;
  /** The display name the platform sent, when it sent one (recorded with operator actions). */
  userName?: string | null;
}

/** Users and channels allowed to run commands. `*` admits any. Both the user and the channel must be allowed. */
export interface ChatAllowlist {
  users: string[];
  channels: string[];
}

/** Fields of a Slack slash command (application/x-www-form-urlencoded body). */
export interface SlackSlashCommand {
  command: string;
  text: string;
  userId: string;
  userName: string | null;
  channelId: string;
  teamId: string | null;
  /** Where the delayed answer goes; only https://hooks.slack.com/... is accepted, else null. */
  responseUrl: string | null;
  triggerId: string | null;
}

/** Fields of a Teams outgoing-webhook activity (JSON body). */
export interface TeamsActivity {
  /** Activity id: the replay key. */
  messageId: string;
  /** The command text with the bot mention and HTML removed. */
  text: string;
  /** AAD object id when present, else the Teams user id. */
  userId: string;
  /** The sender's Azure AD object id (from.aadObjectId), when Teams sent one. */
  aadObjectId: string | null;
  userName: string | null;
  /** Teams channel id (`19:…@thread.tacv2`) when present, else the conversation id. */
  channelId: string;
}

/** Per-beacon status line shown by `status`. */
export interface ChatBeaconStatus {
  instanceId: string;
  status: string;
  detail?: string;
  pinnedVersion?: string | null;
}

/** What `status <requestId>` shows; the handler maps its records to this. */
export interface ChatStatusView {
  requestId: string;
  status: string;
  beacons: ChatBeaconStatus[];
  updatedAt?: string;
  /** The rollout's lines (phase or outcome, counters, what it waits for and the command that answers, the pin). */
  rollout?: string[];
  /** Beacons by state, for a request with more beacons than a status lists one by one. */
  counts?: string;
}

/** A platform-neutral answer; `toSlackMessage` / `toTeamsMessage` render it. */
export interface ChatReply {
  kind: 'accepted' | 'plan' | 'status' | 'error' | 'help';
  title: string;
  /** Plain-text lines (escaped when rendered). */
  lines: string[];
}

/** Slack answer body (slash-command response or response_url POST). */
export interface SlackMessage {
  response_type: 'ephemeral' | 'in_channel';
  text: string;
  blocks: Array<{ type: 'section'; text: { type: 'mrkdwn'; text: string } }>;
}

/** Teams outgoing-webhook answer body. */
export interface TeamsMessage {
  type: 'message';
  text: string;
}
