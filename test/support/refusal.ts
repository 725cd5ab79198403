import { RequestError } from '../../lambdas/core/errors.js';

/** The RequestError `fn` throws; fails the test when it throws nothing or something else. */
export function refusal(fn: () => unknown): RequestError {
  try {
    fn();
  } catch (error) {
    if (error instanceof RequestError) return error;
    throw error;
  }
  throw new Error('expected a RequestError');
}
