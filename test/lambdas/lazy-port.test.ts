import { describe, expect, it } from 'vitest';
import { lazyPort } from '../../lambdas/aws/clients/lazy.js';
import type { Notifier, Outcome } from '../../lambdas/core/ports.js';

describe('a client of a rare path is loaded on first use (lazyPort)', () => {
  it('nothing is loaded until a method is called; then once, and every call reaches the adapter with its arguments', async () => {
    let loads = 0;
    const sent: Outcome[] = [];
    const notifier = lazyPort<Notifier>(async () => {
      loads += 1;
      return { notify: async (outcome) => void sent.push(outcome) };
    });
    expect(loads).toBe(0);
    await Promise.all([notifier.notify({ requestId: 'r1', state: 'invalid', summary: 'a' }), notifier.notify({ requestId: 'r2', state: 'invalid', summary: 'b' })]);
    await notifier.notify({ requestId: 'r3', state: 'invalid', summary: 'c' });
    expect(loads).toBe(1);
    expect(sent.map((o) => o.requestId)).toEqual(['r1', 'r2', 'r3']);
  });

  it('a failed load fails that call and is tried again on the next one', async () => {
    let loads = 0;
    const notifier = lazyPort<Notifier>(async () => {
      loads += 1;
      if (loads === 1) throw new Error('chunk missing');
      return { notify: async () => undefined };
    });
    await expect(notifier.notify({ requestId: 'r1', state: 'invalid', summary: 'a' })).rejects.toThrow('chunk missing');
    await expect(notifier.notify({ requestId: 'r1', state: 'invalid', summary: 'a' })).resolves.toBeUndefined();
    expect(loads).toBe(2);
  });

  it('an error of the adapter reaches the caller unchanged, and the port is not mistaken for a promise', async () => {
    const failure = Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' });
    const notifier = lazyPort<Notifier>(async () => ({ notify: async () => Promise.reject(failure) }));
    await expect(notifier.notify({ requestId: 'r1', state: 'invalid', summary: 'a' })).rejects.toBe(failure);
    await expect(Promise.resolve(notifier)).resolves.toBe(notifier);
  });
});
