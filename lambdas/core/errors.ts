/** Stable error codes of a refused request (beacon-procedure section 2). */
export const ERROR_CODES = [
  'INVALID_REQUEST',
  'INVALID_PROXY_URL',
  'PROXY_AUTH_UNSUPPORTED',
  'PAC_UNSUPPORTED',
  'CRL_ACK_REQUIRED',
  'INVALID_TARGET',
  'INVALID_ACCOUNT',
  'DOWNGRADE_REFUSED',
  /** The requestId is already used by a request with different content (lambdas/core/request-identity.ts). */
  'REQUEST_CONFLICT',
  'PIN_CONFLICT',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

export interface ErrorBody {
  code: ErrorCode;
  message: string;
  field: string;
}

/** A request the product refuses: stable code, the JSON path of the field, and what to do about it. */
export class RequestError extends Error {
  override readonly name = 'RequestError';
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly field: string,
  ) {
    super(message);
  }

  toJSON(): { error: ErrorBody } {
    return { error: { code: this.code, message: this.message, field: this.field } };
  }
}

export function isRequestError(value: unknown): value is RequestError {
  return value instanceof RequestError;
}
