import { createHmac, timingSafeEqual } from 'node:crypto';
import type { SignatureCheck } from './types.js';

/** Slack's replay window: a request whose timestamp is further than this from now is refused. */
export const SLACK_TOLERANCE_SECONDS = 300;

const SLACK_SIGNATURE = /^v0=([0-9a-fA-F]{64})$/;
const EPOCH_SECONDS = /^\d{1,12}$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const SHA256_BYTES = 32;

function toBuffer(body: string | Uint8Array): Buffer {
  return typeof body === 'string' ? Buffer.from(body, 'utf8') : Buffer.from(body);
}

/** Constant-time comparison of two digests; unequal lengths are a mismatch, never an exception. */
function sameDigest(expected: Buffer, given: Buffer): boolean {
  return expected.length === given.length && timingSafeEqual(expected, given);
}

/** Decodes strict, canonical base64 (what a signer produces); null otherwise. */
function decodeBase64(text: string): Buffer | null {
  if (text.length === 0 || !BASE64.test(text)) return null;
  const bytes = Buffer.from(text, 'base64');
  return bytes.toString('base64') === text ? bytes : null;
}

export interface SlackSignatureInput {
  /** The app's signing secret (Basic Information > App Credentials). */
  signingSecret: string;
  /** `X-Slack-Request-Timestamp` header, epoch seconds. */
  timestamp: string | null | undefined;
  /** The raw request body exactly as received (not re-encoded form data). */
  body: string | Uint8Array;
  /** `X-Slack-Signature` header, `v0=<hex>`. */
  signature: string | null | undefined;
  now: Date;
  /** Default SLACK_TOLERANCE_SECONDS. */
  toleranceSeconds?: number;
}

/**
 * Verifies a Slack request: HMAC-SHA256 keyed with the signing secret over `v0:<timestamp>:<raw body>`,
 * compared in constant time with `X-Slack-Signature`; refuses timestamps more than 5 minutes from `now`.
 * Never throws: garbage gives `{ ok: false, reason }`.
 */
export function verifySlackSignature(input: SlackSignatureInput): SignatureCheck {
  const { signingSecret, timestamp, signature } = input;
  if (typeof signingSecret !== 'string' || signingSecret.length === 0 || typeof timestamp !== 'string' || typeof signature !== 'string' || signature.length === 0) {
    return { ok: false, reason: 'missing' };
  }
  if (!EPOCH_SECONDS.test(timestamp)) return { ok: false, reason: 'malformed-timestamp' };
  const nowSeconds = input.now.getTime() / 1000;
  const tolerance = input.toleranceSeconds ?? SLACK_TOLERANCE_SECONDS;
  if (!Number.isFinite(nowSeconds) || Math.abs(nowSeconds - Number(timestamp)) > tolerance) {
    return { ok: false, reason: 'stale-timestamp' };
  }
  const given = SLACK_SIGNATURE.exec(signature.trim());
  if (!given) return { ok: false, reason: 'malformed-signature' };
  let body: Buffer;
  try {
    body = toBuffer(input.body);
  } catch {
    return { ok: false, reason: 'missing' };
  }
  const expected = createHmac('sha256', Buffer.from(signingSecret, 'utf8')).update(`v0:${timestamp}:`, 'utf8').update(body).digest();
  return sameDigest(expected, Buffer.from(given[1]!.toLowerCase(), 'hex')) ? { ok: true } : { ok: false, reason: 'mismatch' };
}

export interface TeamsSignatureInput {
  /** The security token Teams showed when the outgoing webhook was created (base64). */
  securityToken: string;
  /** The raw request body exactly as received. */
  body: string | Uint8Array;
  /** The `Authorization` header, `HMAC <base64>`. */
  authorizationHeader: string | null | undefined;
}

/**
 * Verifies a Microsoft Teams outgoing webhook: `Authorization: HMAC <base64>` where the value is
 * HMAC-SHA256 over the raw UTF-8 body keyed with the base64-decoded security token; constant-time.
 * Teams sends no timestamp: pair this with a ReplayGuard on the activity id. Never throws.
 */
export function verifyTeamsSignature(input: TeamsSignatureInput): SignatureCheck {
  const { securityToken, authorizationHeader } = input;
  if (typeof securityToken !== 'string' || securityToken.length === 0 || typeof authorizationHeader !== 'string' || authorizationHeader.length === 0) {
    return { ok: false, reason: 'missing' };
  }
  const key = decodeBase64(securityToken.trim());
  if (key === null || key.length === 0) return { ok: false, reason: 'malformed-secret' };
  const match = /^HMAC ([A-Za-z0-9+/=]+)$/.exec(authorizationHeader.trim());
  const given = match ? decodeBase64(match[1]!) : null;
  if (given === null || given.length !== SHA256_BYTES) return { ok: false, reason: 'malformed-signature' };
  let body: Buffer;
  try {
    body = toBuffer(input.body);
  } catch {
    return { ok: false, reason: 'missing' };
  }
  const expected = createHmac('sha256', key).update(body).digest();
  return sameDigest(expected, given) ? { ok: true } : { ok: false, reason: 'mismatch' };
}
