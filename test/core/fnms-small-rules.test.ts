/**
 * Small FNMS rules the first mutation run of lambdas/core/fnms found unpinned: the exact refusals of the
 * version rules, column mappings written with blanks, the report caller's status boundaries and real
 * backoff, and field paths in configuration errors.
 */
import { describe, expect, it } from 'vitest';
import { rejection } from '../support/refusal.js';
import { withFnmsDeadline } from '../../lambdas/core/fnms/client.js';
import { BeaconInventoryError, parseColumnMapping } from '../../lambdas/core/fnms/inventory.js';
import { compareVersions, decidePin } from '../../lambdas/core/fnms/pin.js';
import { RetryPolicySchema, createRetryingCaller } from '../../lambdas/core/fnms/report-http.js';
import { parseInventoryConfig } from '../../lambdas/core/fnms/report-inventory.js';

const COLUMNS = { name: 'N', computerName: 'C', version: 'V', status: 'S', lastContact: 'L' };

describe('version rules: exact refusals', () => {
  it('a comparison with something that is not a release names that value', () => {
    expect(() => compareVersions('13.2', '13.x')).toThrow(new TypeError('not a release number: 13.x'));
    expect(() => compareVersions('v13', '13.2')).toThrow(new TypeError('not a release number: v13'));
  });

  it('"latest" is refused with why and what to pin instead', () => {
    expect(() => decidePin({ approvedVersion: 'latest', availableVersions: [] }, 'latest', { allowDowngrade: true })).toThrow(
      'the approved beacon version cannot be "Always use the latest version": an automatic upgrade resets the beacon service and tasks to LocalSystem. Pin "current" or a release such as 13.2.0',
    );
  });
});

describe('column mappings with blanks', () => {
  it('blank entries between commas are skipped; a bad entry is quoted without its blanks', () => {
    expect(parseColumnMapping('name=N, ,computerName=C,version=V,status=S,lastContact=L')).toEqual(COLUMNS);
    expect(() => parseColumnMapping('name=N,  bogus  ,computerName=C')).toThrow('the column mapping entry "bogus" is not field=column');
  });

  it('an invalid column names the field, without a hint about unknown fields', () => {
    expect(() => parseColumnMapping({ ...COLUMNS, version: '' })).toThrow(new Error('invalid column mapping at version: Invalid input'));
  });
});

describe('the report caller at its boundaries', () => {
  const policy = RetryPolicySchema.parse({ maxAttempts: 1 });
  const options = { operation: 'executeReport' as const, what: 'Report page 1', redact: (text: string) => text };
  const answer = (status: number) => async (_signal?: AbortSignal) => ({ status, text: '', headers: new Headers() });

  async function failure(promise: Promise<unknown>): Promise<ReturnType<BeaconInventoryError['toJSON']>> {
    return (await rejection(promise, BeaconInventoryError)).toJSON();
  }

  it('500 is a server failure (retriable); 300 is not success', async () => {
    const caller = createRetryingCaller(policy, { getSecret: async () => '' });
    expect(await failure(caller.call(options, answer(500)))).toMatchObject({ code: 'INVENTORY_HTTP', status: 500, retriable: true, message: 'Report page 1 failed: 500 the server failed on its side' });
    expect(await failure(caller.call(options, answer(300)))).toMatchObject({ code: 'INVENTORY_HTTP', status: 300, retriable: false, message: 'Report page 1 failed: 300 the server refused the call' });
  });

  it('exactly 250 ms left is enough for an attempt', async () => {
    const caller = createRetryingCaller(policy, { getSecret: async () => '', now: () => 1000 });
    await expect(withFnmsDeadline(1250, () => caller.call(options, answer(200)))).resolves.toMatchObject({ status: 200 });
  });

  it('without an injected sleep the backoff really waits', async () => {
    const caller = createRetryingCaller(RetryPolicySchema.parse({ maxAttempts: 2, baseDelayMs: 60, maxDelayMs: 60 }), { getSecret: async () => '' });
    const answers = [answer(503), answer(200)];
    const started = performance.now();
    await caller.call(options, (signal) => answers.shift()!(signal));
    expect(performance.now() - started).toBeGreaterThanOrEqual(29);
  });
});

describe('configuration errors name the nested field', () => {
  it('the inventory\'s retry policy', () => {
    expect(() => parseInventoryConfig({ kind: 'onPremises', url: 'https://fnms.corp.example', reportId: 7, account: 'CORP\\svc', columns: COLUMNS, retry: { timeoutMs: 0 } })).toThrow(
      /^invalid FNMS inventory configuration at retry\.timeoutMs: /,
    );
  });
});
