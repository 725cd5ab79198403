/**
 * Request identity: what makes two requests "the same request".
 *
 * - A request is identified by its `requestId` and its *content* (every field but requestId, as canonical
 *   JSON, hashed with SHA-256). The same id with the same content is a resend: it returns the existing
 *   request. The same id with other content is a conflict (REQUEST_CONFLICT): it is refused and recorded,
 *   and nothing runs.
 * - A request sent without an id gets one derived from its content *and the window it was sent in*
 *   (`REQUEST_IDENTITY.derivedIdWindowSeconds`, UTC windows): within one window a resend is the same request;
 *   the same content in a later window is a new request and runs again (a beacon that was offline, a fix
 *   made again weeks later).
 * - An operator re-runs a request explicitly (`POST /requests/{id}/rerun`, `beacon-proxy rerun`): a new
 *   request with the same content and a new id, linked both ways (`rerunOf` on the new record,
 *   a `request.rerun` audit event on the old one).
 */
import { createHash } from 'node:crypto';
import { canonicalJson } from './canonical-json.js';
import { RequestError } from './errors.js';

export const REQUEST_IDENTITY = {
  /**
   * The window of a content-derived request id, and how long the intake's idempotency records live: an
   * identical request without an id sent again within the same UTC day is the same request; on a later day
   * it runs again.
   */
  derivedIdWindowSeconds: 24 * 60 * 60,
} as const;

/** SHA-256 (hex) of the request's content: every field but requestId, as canonical JSON. */
export function requestContentHash(input: Record<string, unknown>): string {
  const { requestId: _ignored, ...content } = input;
  return createHash('sha256').update(canonicalJson(content)).digest('hex');
}

/** Start of the derived-id window `at` falls in, written compactly (UTC): 20261202T0000. */
export function identityWindow(at: Date, windowSeconds: number = REQUEST_IDENTITY.derivedIdWindowSeconds): string {
  const start = new Date(Math.floor(at.getTime() / (windowSeconds * 1000)) * windowSeconds * 1000);
  return start.toISOString().slice(0, 16).replace(/[-:]/g, '');
}

/** The id of a request sent without one: its content digest and the window it was sent in. */
export function derivedRequestId(input: Record<string, unknown>, sentAt: Date): string {
  return `req-${requestContentHash(input).slice(0, 24)}-${identityWindow(sentAt)}`;
}

/** A new id for an explicit re-run of `requestId`, distinct per millisecond and within the id pattern's 64 characters. */
export function rerunRequestId(requestId: string, at: Date): string {
  return `${requestId.slice(0, 40)}.rerun-${at.getTime().toString(36)}`;
}

/** What a request arriving under an id means, given the content already recorded under it. */
export type IdentityDecision = 'new' | 'resend' | 'conflict';

/**
 * `existingContent`: the content recorded under the id (the request in its input form), `null` when the id
 * was recorded without content (a refused request), `undefined` when nothing is recorded under it.
 */
export function decideIdentity(existingContent: Record<string, unknown> | null | undefined, contentHash: string): IdentityDecision {
  if (existingContent === undefined) return 'new';
  if (existingContent === null) return 'conflict';
  return requestContentHash(existingContent) === contentHash ? 'resend' : 'conflict';
}

/** The refusal of a request whose id is already taken by other content. */
export function requestConflict(requestId: string): RequestError {
  return new RequestError(
    'REQUEST_CONFLICT',
    `request id ${requestId} is already used by a request with different content; nothing was changed. ` +
      'Send the change under a new requestId (or without one), or re-run the existing request with POST /requests/{id}/rerun',
    'requestId',
  );
}

export function isRequestConflict(error: unknown): error is RequestError {
  return error instanceof RequestError && error.code === 'REQUEST_CONFLICT';
}
