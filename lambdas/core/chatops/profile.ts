import * as z from 'zod/mini';
import { RequestError } from '../errors.js';
import { LIMITS } from '../limits.js';
import { type BeaconRequest, type RequestInput, type Target, parseRequest } from '../request.js';
import type { ChatAllowlist, ChatCaller } from './types.js';

/** The request JSON a target takes. */
export function targetToInput(target: Target): RequestInput['target'] {
  return target.kind === 'tag' ? { tag: { key: target.key, value: target.value } } : { instanceIds: [...target.instanceIds] };
}

/** Parses a stored profile's text (e.g. an SSM parameter value); throws RequestError on size or JSON errors. */
export function parseProfileText(text: string): unknown {
  if (Buffer.byteLength(text, 'utf8') > LIMITS.maxRequestBytes) {
    throw new RequestError('INVALID_REQUEST', `the profile is larger than ${LIMITS.maxRequestBytes} bytes`, '$');
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new RequestError('INVALID_REQUEST', `the profile is not valid JSON (${(error as Error).message}); fix the stored profile`, '$');
  }
}

/**
 * Turns a stored profile (a request without `target` and `requestId`) into a request for `target`, validated
 * by `parseRequest` exactly like any other trigger's request. `input` is what goes on the intake queue.
 * Throws RequestError (codes of section 2) with the field inside the request.
 */
export function buildRequestFromProfile(profile: unknown, target: Target, requestId: string): { input: RequestInput; request: BeaconRequest } {
  if (typeof profile !== 'object' || profile === null || Array.isArray(profile)) {
    throw new RequestError('INVALID_REQUEST', 'a profile is a JSON object: a request without target and requestId', '$');
  }
  for (const field of ['target', 'requestId'] as const) {
    if (field in profile) {
      throw new RequestError(
        field === 'target' ? 'INVALID_TARGET' : 'INVALID_REQUEST',
        `a profile does not contain ${field}: the chat command gives it. Remove ${field} from the stored profile`,
        field,
      );
    }
  }
  const input = { ...(profile as Record<string, unknown>), requestId, target: targetToInput(target) };
  const request = parseRequest(input);
  return { input: input as RequestInput, request };
}

/** Allowlist configuration as stored (e.g. a JSON parameter). */
export const ChatAllowlistSchema = z.strictObject({
  users: z.array(z.string().check(z.minLength(1))),
  channels: z.array(z.string().check(z.minLength(1))),
});

/** True when both the user and the channel are allowlisted (`*` admits any). Empty lists admit nobody. */
export function isAllowed(caller: ChatCaller, allowlist: ChatAllowlist): boolean {
  const admits = (list: readonly string[], id: string): boolean => id.length > 0 && (list.includes('*') || list.includes(id));
  return admits(allowlist.users, caller.userId) && admits(allowlist.channels, caller.channelId);
}
