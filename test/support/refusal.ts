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

/** The error of type `type` that `promise` rejects with; fails the test when it resolves or rejects with something else. */
export async function rejection<E extends Error>(promise: Promise<unknown>, type: abstract new (...args: never[]) => E): Promise<E> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof type) return error;
    throw error;
  }
  throw new Error(`expected a ${type.name}`);
}
