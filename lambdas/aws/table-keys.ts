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
  /** `BASELINE#<instanceId>`: the beacon's drift baseline (the desired state last applied and verified). */
  baseline: 'BASELINE#',
  /** `DRIFT#checkpoint` and `DRIFT#<passId>`: the drift pass's checkpoint and pages. */
  drift: 'DRIFT#',
  /** `PIN#fnms-approved-version`: the pin ledger across requests (lambdas/aws/rollout-store.ts). */
  pin: 'PIN#',
} as const;

/** Chat replay memory: `MARK#` + this prefix + platform + message key. */
export const CHAT_REPLAY_KEY_PREFIX = 'replay#';

/**
 * The state table's index of each beacon's history across requests: every per-beacon status item
 * (`REQ#<requestId>` / `BEACON#<instanceId>`) carries these two attributes, so `GET /beacons/{instanceId}`
 * is one Query on the index, newest first, never a scan. No other item has them (a sparse index).
 */
export const BEACON_HISTORY_INDEX = {
  name: 'byBeacon',
  /** The beacon's instance id. */
  partitionKey: 'historyBeacon',
  /** `<updatedAt>#<requestId>`: newest activity last (the Query reads backwards). */
  sortKey: 'historyAt',
} as const;
