/** Limits of the request and of what travels to a beacon, defined once. */
export const LIMITS = {
  /** Largest request document accepted by any trigger. */
  maxRequestBytes: 16 * 1024,
  /** SSM SendCommand takes at most 50 instance ids; larger fleets use a tag target. */
  maxInstanceIds: 50,
  maxBypassEntries: 64,
  maxBypassEntryLength: 253,
  maxReasonLength: 500,
  /** The desired state travels as one base64 SSM parameter; a document with its parameters must stay under 64 KB. */
  maxDesiredStateBase64Length: 16 * 1024,
  /** GetCommandInvocation returns the first 24,000 characters of stdout; the result line must fit well within. */
  maxResultLineLength: 16 * 1024,
  /** DynamoDB refuses an item over 400 KB (attribute names and values counted): a status or audit record stays well below. */
  maxStoreItemBytes: 400 * 1024,
} as const;
