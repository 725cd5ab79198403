/**
 * SQS message attributes that travel beside the body. The body is the plain request JSON, or an operator's
 * command (cancel, go, confirm-pin) when `kind` is `operator` (chat sends those through the queue: the
 * internet-facing chat function holds no write access to requests).
 */
export const MESSAGE_ATTRIBUTES = { source: 'source', replyTo: 'replyTo', rerunOf: 'rerunOf', caller: 'caller', kind: 'kind' } as const;

/** The `kind` attribute of an operator's command. */
export const OPERATOR_MESSAGE_KIND = 'operator';
