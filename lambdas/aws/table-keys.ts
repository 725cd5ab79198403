/**
 * Partition-key prefixes of the state table (see lambdas/aws/dynamo.ts for the item layout) that IAM
 * conditions name with `dynamodb:LeadingKeys`, so a role can be held to some kinds of items. A test runs
 * the real DynamoDB adapters through the synthesized policies: a prefix that drifts from dynamo.ts fails it.
 */
export const TABLE_KEY_PREFIXES = {
  /** `REQ#<requestId>`: the request record, its per-beacon status and audit trail. */
  request: 'REQ#',
  /** `LOCK#<instanceId>`: the per-beacon lock. */
  lock: 'LOCK#',
  /** `MARK#<key>`: things remembered once (seen beacons, answered chat messages). */
  mark: 'MARK#',
  /** `VALUE#<key>`: small trigger state. */
  value: 'VALUE#',
  /** `PIN#fnms-approved-version`: the pin ledger across requests (lambdas/aws/rollout-store.ts). */
  pin: 'PIN#',
} as const;

/** Chat replay memory: `MARK#` + this prefix + platform + message key. */
export const CHAT_REPLAY_KEY_PREFIX = 'replay#';
