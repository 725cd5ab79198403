/** One scripted answer: a status (body: text, or JSON for anything else), a request that never answers, or a transport error. */
export type ScriptedStep = { status: number; body?: unknown; headers?: Record<string, string> } | 'hang' | { error: Error };

const NULL_BODY_STATUSES = new Set([101, 204, 205, 304]);

/** A fetch that answers the scripted steps in order (then `whenDone`) and records what was asked. */
export function scriptedFetch(steps: ScriptedStep[], whenDone: ScriptedStep): { fetch: typeof fetch; calls: Array<{ url: string; init: RequestInit }> } {
  const calls: Array<{ url: string; init: RequestInit }> = [];
  const fetchImpl = (async (input: string | URL | Request, init?: RequestInit) => {
    calls.push({ url: String(input), init: init ?? {} });
    const step = steps.shift() ?? whenDone;
    if (step === 'hang') {
      return new Promise<Response>((_, reject) => init?.signal?.addEventListener('abort', () => reject(new DOMException('aborted', 'AbortError'))));
    }
    if ('error' in step) throw step.error;
    const body = NULL_BODY_STATUSES.has(step.status) || step.body === undefined ? null : typeof step.body === 'string' ? step.body : JSON.stringify(step.body);
    return new Response(body, { status: step.status, headers: step.headers });
  }) as typeof fetch;
  return { fetch: fetchImpl, calls };
}
