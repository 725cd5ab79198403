import { LIMITS } from '../limits.js';
import { PIN_ID_PATTERN } from '../fnms/pin-ledger.js';
import { PATTERNS, type Target } from '../request.js';
import type { ChatCommandError, ChatCommandErrorCode, ChatCommandResult } from './types.js';

/** A stored profile's name: what users type instead of proxy URLs. */
export const PROFILE_NAME_PATTERN = /^[A-Za-z0-9._-]{1,64}$/;

/** Longest command text accepted. */
export const MAX_COMMAND_LENGTH = 4000;

const EXAMPLE_INSTANCE = 'i-0123456789abcdef0';
const USAGE = {
  apply: `apply <target> <profile>   e.g. apply ${EXAMPLE_INSTANCE} default-https`,
  plan: `plan <target> <profile>    e.g. plan tag:BeaconGroup=emea default-https`,
  status: 'status <requestId>         e.g. status slack-3f2a9c0d1e2b3c4d5e6f7a8b',
  rollback: `rollback <instanceId>      e.g. rollback ${EXAMPLE_INSTANCE}`,
  retry: `retry <instanceId>         e.g. retry ${EXAMPLE_INSTANCE}`,
  cancel: 'cancel <requestId> [rollback]   e.g. cancel slack-3f2a9c0d1e2b3c4d5e6f7a8b rollback',
  go: 'go <requestId>             e.g. go slack-3f2a9c0d1e2b3c4d5e6f7a8b',
  confirmPin: 'confirm-pin <pinId>        e.g. confirm-pin pin-slack-3f2a9c0d1e2b3c4d5e6f7a8b',
  help: 'help',
} as const;

/** The `help` text: every command with an example, and how targets are written. */
export const CHAT_HELP_LINES: readonly string[] = [
  'Commands:',
  `  ${USAGE.apply}   configure the beacons with a stored profile`,
  `  ${USAGE.plan}   show what apply would change, without changing anything`,
  `  ${USAGE.status}   progress of a request`,
  `  ${USAGE.rollback}   restore the beacon's last capture (undo its last change)`,
  `  ${USAGE.retry}   run the beacon's last request again`,
  `  ${USAGE.cancel}   stop a rollout: nothing new starts; with rollback, running beacons are rolled back`,
  `  ${USAGE.go}   start the waves after a canary that waits for a go`,
  `  ${USAGE.confirmPin}   say FNMS "Beacon version approved for use" is set to the value asked`,
  `  ${USAGE.help}   this text`,
  `Targets: an instance id (i-… or mi-…), several separated by commas (${EXAMPLE_INSTANCE},mi-0123456789abcdef0), or tag:Key=Value.`,
  'Profiles are stored requests (proxy, account, options) managed by the administrators; ask them for the names.',
];

function error(code: ChatCommandErrorCode, message: string): { ok: false; error: ChatCommandError } {
  return { ok: false, error: { code, message } };
}

/** Parses a target as typed in chat: `i-…`/`mi-…` (comma-separated list allowed) or `tag:Key=Value`. */
export function parseChatTarget(text: string): { ok: true; target: Target } | { ok: false; error: ChatCommandError } {
  if (/^tag:/i.test(text)) {
    const spec = text.slice(4);
    const equals = spec.indexOf('=');
    if (equals <= 0) return error('INVALID_TARGET', `"${text}" is not a tag target: write tag:Key=Value, e.g. tag:BeaconGroup=emea`);
    const key = spec.slice(0, equals);
    const value = spec.slice(equals + 1);
    if (!PATTERNS.tagKey.test(key)) return error('INVALID_TARGET', `tag key "${key}" must be 1-128 letters, digits or _.:/=+@-`);
    if (!PATTERNS.tagValue.test(value)) return error('INVALID_TARGET', `tag value "${value}" must be up to 256 letters, digits or _.:/=+@-`);
    return { ok: true, target: { kind: 'tag', key, value } };
  }
  const ids = text.split(',');
  if (ids.length > LIMITS.maxInstanceIds) {
    return error('INVALID_TARGET', `at most ${LIMITS.maxInstanceIds} instance ids per command; use tag:Key=Value for larger fleets`);
  }
  const seen = new Set<string>();
  for (const id of ids) {
    if (!PATTERNS.instanceId.test(id)) {
      return error(
        'INVALID_TARGET',
        `"${id}" is not a target: give an instance id (i- with 8 or 17 hex digits, or mi- with 17, e.g. ${EXAMPLE_INSTANCE}), ` +
          'several separated by commas, or tag:Key=Value',
      );
    }
    if (seen.has(id)) return error('INVALID_TARGET', `${id} is listed twice; name each beacon once`);
    seen.add(id);
  }
  return { ok: true, target: { kind: 'instances', instanceIds: [...ids] } };
}

/**
 * Parses chat text (Slack slash-command `text`, or a Teams message with the mention removed):
 * `apply <target> <profile>`, `plan <target> <profile>`, `status <requestId>`, `rollback <instanceId>`,
 * `retry <instanceId>`, `help`. Strict: every refusal
 * says what to type. Never throws.
 */
export function parseChatCommand(text: string): ChatCommandResult {
  if (typeof text !== 'string') return error('EMPTY_COMMAND', `Type a command. ${USAGE.apply}; or help`);
  if (text.length > MAX_COMMAND_LENGTH) return error('TOO_LONG', `the command is longer than ${MAX_COMMAND_LENGTH} characters; name a tag target instead of many ids`);
  // Chat clients insert non-breaking spaces, and users write "i-1, i-2".
  const normalised = text.replace(/[\s\u00a0\u2000-\u200b\u202f\u3000]+/g, ' ').replace(/ ?, ?/g, ',').trim();
  if (normalised.length === 0) return error('EMPTY_COMMAND', `Type a command: ${USAGE.apply}, ${USAGE.status}, or help`);
  const [verbRaw, ...args] = normalised.split(' ');
  const verb = verbRaw!.toLowerCase();
  switch (verb) {
    case 'help':
      if (args.length > 0) return error('TOO_MANY_ARGUMENTS', 'help takes no arguments; type help');
      return { ok: true, command: { kind: 'help' } };
    case 'status': {
      if (args.length === 0) return error('MISSING_ARGUMENT', `status needs the request id that apply answered: ${USAGE.status}`);
      if (args.length > 1) return error('TOO_MANY_ARGUMENTS', `status takes one request id: ${USAGE.status}`);
      const requestId = args[0]!;
      if (!PATTERNS.requestId.test(requestId)) return error('INVALID_REQUEST_ID', `"${requestId}" is not a request id (1-64 letters, digits, . _ -): ${USAGE.status}`);
      return { ok: true, command: { kind: 'status', requestId } };
    }
    case 'rollback':
    case 'retry': {
      const usage = USAGE[verb];
      if (args.length === 0) return error('MISSING_ARGUMENT', `${verb} needs one instance id: ${usage}`);
      if (args.length > 1 || args[0]!.includes(',')) return error('TOO_MANY_ARGUMENTS', `${verb} acts on one beacon at a time: ${usage}`);
      if (!PATTERNS.instanceId.test(args[0]!)) {
        return error('INVALID_TARGET', `"${args[0]}" is not an instance id (i- with 8 or 17 hex digits, or mi- with 17): ${usage}`);
      }
      return { ok: true, command: { kind: verb, instanceId: args[0]! } };
    }
    case 'cancel':
    case 'go': {
      const usage = USAGE[verb];
      const extra = verb === 'cancel' ? 2 : 1;
      if (args.length === 0) return error('MISSING_ARGUMENT', `${verb} needs the request id: ${usage}`);
      if (args.length > extra || (verb === 'cancel' && args.length === 2 && args[1]!.toLowerCase() !== 'rollback')) return error('TOO_MANY_ARGUMENTS', `write: ${usage}`);
      const requestId = args[0]!;
      if (!PATTERNS.requestId.test(requestId)) return error('INVALID_REQUEST_ID', `"${requestId}" is not a request id (1-64 letters, digits, . _ -): ${usage}`);
      return { ok: true, command: verb === 'cancel' ? { kind: 'cancel', requestId, rollback: args.length === 2 } : { kind: 'go', requestId } };
    }
    case 'confirm-pin': {
      if (args.length !== 1) return error(args.length === 0 ? 'MISSING_ARGUMENT' : 'TOO_MANY_ARGUMENTS', `confirm-pin takes the pin id the pin message names: ${USAGE.confirmPin}`);
      if (!PIN_ID_PATTERN.test(args[0]!)) return error('INVALID_REQUEST_ID', `"${args[0]}" is not a pin id (pin-<requestId>): ${USAGE.confirmPin}`);
      return { ok: true, command: { kind: 'confirm-pin', pinId: args[0]! } };
    }
    case 'apply':
    case 'plan': {
      const usage = USAGE[verb];
      if (args.length < 2) return error('MISSING_ARGUMENT', `${verb} needs a target and a profile: ${usage}`);
      if (args.length > 2) {
        return error('TOO_MANY_ARGUMENTS', `${verb} takes exactly a target and a profile (separate instance ids with commas, no spaces): ${usage}`);
      }
      const target = parseChatTarget(args[0]!);
      if (!target.ok) return target;
      const profile = args[1]!;
      if (!PROFILE_NAME_PATTERN.test(profile)) {
        return error('INVALID_PROFILE', `"${profile}" is not a profile name (1-64 letters, digits, . _ -); profiles are named, never proxy URLs: ${usage}`);
      }
      return { ok: true, command: { kind: verb, target: target.target, profile } };
    }
    default:
      return error('UNKNOWN_COMMAND', `unknown command "${verbRaw!.slice(0, 40)}". Try: ${USAGE.apply}; ${USAGE.plan}; ${USAGE.status}; ${USAGE.rollback}; ${USAGE.retry}; help`);
  }
}
