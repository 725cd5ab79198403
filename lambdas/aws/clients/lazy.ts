/**
 * Ports whose adapter (and the SDK client under it) a function imports only when it first uses them: for a
 * client only a rare path needs (a notification about an invalid request, an enqueue when a new beacon turned
 * up). The function's bundle keeps such a client in a chunk of its own (code splitting), so the init of the
 * common path neither reads nor compiles it. A client every invocation uses stays a static import: loading it
 * later would only move the cost into the first invocation.
 */

/** An interface whose members are all methods returning promises (every port of lambdas/core/ports.ts that does I/O). */
export type AsyncPort<T> = { [K in keyof T]: T[K] extends (...args: infer A) => Promise<infer R> ? (...args: A) => Promise<R> : never };

/**
 * A port that imports its adapter on the first call of any method and delegates every call to it. A failed
 * import is not kept: the next call tries again (the invocation that failed reports the error).
 */
export function lazyPort<T extends AsyncPort<T>>(load: () => Promise<T>): T {
  let loading: Promise<T> | undefined;
  const adapter = (): Promise<T> => {
    loading ??= load().catch((error: unknown) => {
      loading = undefined;
      throw error;
    });
    return loading;
  };
  return new Proxy({} as T, {
    get(_target, member) {
      if (typeof member !== 'string' || member === 'then') return undefined;
      return async (...args: unknown[]) => {
        const port = await adapter();
        const method = port[member as keyof T] as unknown;
        if (typeof method !== 'function') throw new TypeError(`the lazily loaded adapter has no method ${member}`);
        return (method as (...a: unknown[]) => Promise<unknown>).apply(port, args);
      };
    },
  });
}
