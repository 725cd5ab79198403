/**
 * The deployment settings that decide who may do what: the API's principals, the customer managed keys of
 * secrets, and what the beacon instance policy may read. Part of the stack configuration (infra/config.ts
 * spreads these fields into its schema); kept here so each value's rule and message live in one place.
 */
import { z } from 'zod';
import { PATTERNS } from '../lambdas/core/request.js';

const PARTITION = 'aws(-[a-z]+)*';

/** An IAM role or user ARN; `*` and `?` may stand in the name (SSO roles end in a random suffix). */
const PRINCIPAL_ARN = new RegExp(`^arn:${PARTITION}:iam::\\d{12}:(role|user)/[A-Za-z0-9+=,.@_\\-/*?]{1,512}$`);
/** A KMS key ARN (single- or multi-region key). Aliases cannot be named in an IAM policy's Resource. */
const KMS_KEY_ARN = new RegExp(`^arn:${PARTITION}:kms:[a-z]{2}(-[a-z]+)+-\\d:\\d{12}:key/(mrk-[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$`);

/** Comma-separated text or a JSON array (cdk.json) -> trimmed, non-empty items. */
const csvItems = z
  .union([z.string(), z.array(z.string())])
  .transform((value) => (Array.isArray(value) ? value : value.split(',')).map((item) => item.trim()).filter(Boolean));

/** A list whose every item passes `check` (which returns what is wrong, or null); the message names the item. */
function listOf(check: (item: string) => string | null) {
  return csvItems.superRefine((items, ctx) => {
    items.forEach((item, index) => {
      const problem = check(item);
      if (problem) ctx.addIssue({ code: 'custom', path: [index], message: `"${item}": ${problem}` });
    });
  });
}

/** The last path segment must name something: `role/*` would admit every role of the account. */
const namesSomething = (name: string): boolean => /[^*?/]/.test(name.split('/').filter(Boolean).at(-1) ?? '');

export function principalProblem(item: string): string | null {
  if (item === '*') return 'a wildcard would admit every principal; name IAM role or user ARNs';
  if (/^arn:[^:]+:sts::/.test(item)) return 'an assumed-role session changes with every sign-in; name the role (arn:aws:iam::<account>:role/<name>)';
  if (/^arn:[^:]+:iam::\d{12}:root$/.test(item) || /^\d{12}$/.test(item)) return 'a whole account is too broad; name the IAM roles or users that may call the API';
  if (!PRINCIPAL_ARN.test(item)) return 'not an IAM role or user ARN (arn:aws:iam::123456789012:role/name; * and ? may stand in the name)';
  if (!namesSomething(item.replace(/^.*?:(role|user)\//, ''))) return 'the name is only a wildcard, which admits every role or user of the account; name them';
  return null;
}

export function kmsKeyProblem(item: string): string | null {
  if (/:alias\//.test(item)) return 'an alias cannot be used in an IAM policy; give the key ARN (arn:aws:kms:<region>:<account>:key/<key id>)';
  return KMS_KEY_ARN.test(item) ? null : 'not a KMS key ARN (arn:aws:kms:<region>:<account>:key/<key id>)';
}

/** A secret ARN as requests name it, or a name prefix ending in `*` (every secret under a path). */
export function secretArnProblem(item: string): string | null {
  const prefix = item.endsWith('*') ? item.slice(0, -1) : null;
  if (prefix !== null) {
    const name = prefix.replace(/^.*?:secret:/, '');
    if (!PATTERNS.secretArn.test(`${prefix}x`) || name.length === 0 || prefix.includes('*')) {
      return 'a prefix pattern is a secret ARN whose name part ends in one * (arn:aws:secretsmanager:<region>:<account>:secret:beacon/*)';
    }
    return null;
  }
  return PATTERNS.secretArn.test(item) ? null : 'not a Secrets Manager secret ARN (arn:aws:secretsmanager:<region>:<account>:secret:<name>-<suffix>)';
}

/** A SecureString parameter name, or a path ending in `/*` (every parameter below it). */
export function parameterNameProblem(item: string): string | null {
  const path = item.endsWith('/*') ? item.slice(0, -2) : item;
  if (!path.startsWith('/') || path.startsWith('arn:') || !PATTERNS.parameterName.test(path) || path.includes('*')) {
    return 'a parameter name or path starting with / (e.g. /beacon-proxy/passwords/svc-beacon or /beacon-proxy/passwords/*)';
  }
  return null;
}

export const ACCESS_CONFIG_FIELDS = {
  /** IAM roles/users that may submit (POST /requests, /plans and every future POST); nobody by default. */
  apiSubmitPrincipals: listOf(principalProblem).default([]),
  /** IAM roles/users that may read (GET /requests/{id}); nobody by default. */
  apiReadPrincipals: listOf(principalProblem).default([]),
  /** Customer managed keys encrypting the stack's own secrets (FNMS token, Slack and Teams secrets). */
  secretKmsKeyArns: listOf(kmsKeyProblem).default([]),
  /** Password secrets the beacons read (exact ARNs, or `...:secret:path/*`). */
  beaconSecretArns: listOf(secretArnProblem).default([]),
  /** Password SecureString parameters the beacons read (exact names, or `/path/*`). */
  beaconParameterNames: listOf(parameterNameProblem).default([]),
  /** Customer managed keys of those secrets and parameters. */
  beaconKmsKeyArns: listOf(kmsKeyProblem).default([]),
};
