/** The pin gateway call that failed; `token` is the gateway's token endpoint (refresh-token auth). */
export type FnmsOperation = 'getBeaconSettings' | 'setApprovedBeaconVersion' | 'token';

/** How a call failed: an HTTP status, no answer in time, no connection, an unusable answer, or missing credentials. */
export type FnmsFailureKind = 'http' | 'timeout' | 'network' | 'protocol' | 'auth';

/**
 * A failed FNMS call, after retries. The message names the operation and never contains a token or secret.
 * `retriable` says whether a later attempt may succeed (429, 5xx, timeout, network), for Step Functions Retry.
 */
export class FnmsError extends Error {
  override readonly name = 'FnmsError';
  constructor(
    readonly operation: FnmsOperation,
    readonly kind: FnmsFailureKind,
    message: string,
    readonly status: number | null,
    readonly retriable: boolean,
    /** Attempts made, including the first. */
    readonly attempts: number,
  ) {
    super(message);
  }

  toJSON(): { name: string; operation: FnmsOperation; kind: FnmsFailureKind; status: number | null; retriable: boolean; attempts: number; message: string } {
    return { name: this.name, operation: this.operation, kind: this.kind, status: this.status, retriable: this.retriable, attempts: this.attempts, message: this.message };
  }
}

export function isFnmsError(value: unknown): value is FnmsError {
  return value instanceof FnmsError;
}
