/** SQS message attributes that travel beside the request JSON (the body stays the plain request). */
export const MESSAGE_ATTRIBUTES = { source: 'source', replyTo: 'replyTo', rerunOf: 'rerunOf', caller: 'caller' } as const;
