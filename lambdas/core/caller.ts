/**
 * Who asked: the caller kept on every request record, on the intake's audit events and in notifications.
 * Each trigger names its caller from what its platform vouches for, never from the request body:
 *   api         the caller's IAM ARN from API Gateway's request context (SigV4-authenticated)
 *   slack       team id, user id and user name of the signed slash command
 *   teams       AAD object id and name of the signed outgoing-webhook activity
 *   sqs         the SQS `SenderId` system attribute (IAM user id, or role id:session) of a message sent
 *               straight to the queue; SQS sets it, the sender cannot
 *   system      the new-beacon and drift triggers
 * The stack's own producers (API, ChatOps, triggers) pass their caller to the intake in the `caller` message
 * attribute; the intake believes that attribute only from a sender whose role is one of theirs
 * (`callerFromQueue`), so a message attribute set by anyone else never names the caller.
 */
import * as z from 'zod/mini';

/** Printable text without control characters (names may be any script). */
const text = (max: number) => z.string().check(z.minLength(1), z.maxLength(max), z.regex(/^[^\x00-\x1f\x7f]+$/u));

export const CallerSchema = z.union([
  z.strictObject({ kind: z.literal('iam'), arn: text(2048).check(z.regex(/^arn:aws[a-z-]*:(iam|sts)::\d{12}:\S+$/)) }),
  z.strictObject({ kind: z.literal('slack'), teamId: z.nullable(text(64)), userId: text(64), userName: z.nullable(text(256)) }),
  z.strictObject({ kind: z.literal('teams'), aadObjectId: z.nullable(text(64)), userId: text(256), name: z.nullable(text(256)) }),
  z.strictObject({ kind: z.literal('sqs'), senderId: text(256) }),
  z.strictObject({ kind: z.literal('system'), trigger: z.enum(['new-beacon', 'drift']) }),
  /** The local server without the SigV4 front: nobody vouches for the caller. */
  z.strictObject({ kind: z.literal('unauthenticated'), via: text(64) }),
]);

export type Caller = z.infer<typeof CallerSchema>;

export const SYSTEM_CALLER = {
  newBeacon: { kind: 'system', trigger: 'new-beacon' },
  drift: { kind: 'system', trigger: 'drift' },
} as const satisfies Record<string, Caller>;

/** One line for people: notifications, the status view, the twin's report. */
export function describeCaller(caller: Caller | null | undefined): string {
  if (!caller) return 'unknown caller';
  switch (caller.kind) {
    case 'iam':
      return caller.arn;
    case 'slack':
      return `Slack ${caller.teamId ?? '?'}/${caller.userId}${caller.userName ? ` (${caller.userName})` : ''}`;
    case 'teams':
      return `Teams ${caller.aadObjectId ?? caller.userId}${caller.name ? ` (${caller.name})` : ''}`;
    case 'sqs':
      return `SQS sender ${caller.senderId}`;
    case 'system':
      return `beacon-proxy (${caller.trigger} trigger)`;
    case 'unauthenticated':
      return `unauthenticated (${caller.via})`;
  }
}

/** The caller in an API Gateway REST event (IAM authorization): the SigV4 signer's ARN. */
export function callerFromApiContext(identity: { userArn?: string | null } | null | undefined): Caller {
  const parsed = CallerSchema.safeParse({ kind: 'iam', arn: identity?.userArn ?? '' });
  return parsed.success ? parsed.data : { kind: 'unauthenticated', via: 'api without IAM identity' };
}

/**
 * The caller of an intake message. `senderId`: the SQS SenderId system attribute; `attribute`: the `caller`
 * message attribute; `trustedRoleIds`: the role ids (AROA...) of the stack's own producers. The attribute is
 * believed only when the sender is one of them and it is a valid caller; otherwise the sender itself is the caller.
 */
export function callerFromQueue(senderId: string | undefined, attribute: string | undefined, trustedRoleIds: readonly string[]): Caller {
  const sender = senderId && senderId.length > 0 ? senderId.slice(0, 256) : 'unknown';
  const roleId = sender.split(':')[0]!;
  if (attribute !== undefined && trustedRoleIds.includes(roleId)) {
    try {
      const parsed = CallerSchema.safeParse(JSON.parse(attribute));
      if (parsed.success) return parsed.data;
    } catch {
      // not JSON: the sender is the caller
    }
  }
  return { kind: 'sqs', senderId: sender };
}
