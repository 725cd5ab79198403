import { describe, expect, it } from 'vitest';
import { PATTERNS } from '../../lambdas/core/request.js';
import {
  REQUEST_IDENTITY,
  decideIdentity,
  derivedRequestId,
  identityWindow,
  isRequestConflict,
  requestConflict,
  requestContentHash,
  rerunRequestId,
} from '../../lambdas/core/request-identity.js';

const content = { target: { instanceIds: ['i-0123456789abcdef0'] }, protocol: 'https', proxy: 'p.example:8080', account: { kind: 'gmsa', name: 'CORP\\svc$' } };

describe('request identity: what makes two requests the same request', () => {
  it('the content hash ignores the requestId and the order of keys, and sees every other field', () => {
    const hash = requestContentHash({ requestId: 'a', ...content });
    expect(requestContentHash({ ...content, requestId: 'b' })).toBe(hash);
    expect(requestContentHash(JSON.parse(JSON.stringify({ account: content.account, proxy: content.proxy, protocol: 'https', target: content.target })))).toBe(hash);
    expect(requestContentHash({ ...content, dryRun: true })).not.toBe(hash);
  });

  it('same id and content is a resend; other content, or an id recorded as refused, is a conflict; an unknown id is new', () => {
    const hash = requestContentHash(content);
    expect(decideIdentity(undefined, hash)).toBe('new');
    expect(decideIdentity({ requestId: 'x', ...content }, hash)).toBe('resend');
    expect(decideIdentity({ ...content, proxy: 'q.example:8080' }, hash)).toBe('conflict');
    expect(decideIdentity(null, hash)).toBe('conflict');
  });

  it('REQUEST_CONFLICT names the field and says what to do', () => {
    const error = requestConflict('chg-1');
    expect(error.toJSON().error).toEqual({ code: 'REQUEST_CONFLICT', field: 'requestId', message: expect.stringMatching(/new requestId.*rerun/) });
    expect(isRequestConflict(error)).toBe(true);
  });

  it('a derived id names its UTC window (one day, REQUEST_IDENTITY) and fits the id pattern', () => {
    expect(REQUEST_IDENTITY.derivedIdWindowSeconds).toBe(86_400);
    expect(identityWindow(new Date('2026-12-02T23:59:59.999Z'))).toBe('20261202T0000');
    expect(identityWindow(new Date('2026-12-03T00:00:00Z'))).toBe('20261203T0000');
    expect(derivedRequestId(content, new Date('2026-12-02T07:00:00Z'))).toMatch(PATTERNS.requestId);
  });

  it('a re-run id is new, fits the id pattern even for a 64-character id, and differs per re-run', () => {
    const long = `a${'b'.repeat(63)}`;
    const first = rerunRequestId(long, new Date('2026-12-02T07:00:00Z'));
    const second = rerunRequestId(long, new Date('2026-12-02T07:00:00.001Z'));
    expect(first).toMatch(PATTERNS.requestId);
    expect(first).not.toBe(second);
    expect(rerunRequestId('chg-1', new Date(0))).toMatch(/^chg-1\.rerun-/);
  });
});

describe('a request conflict is told from other refusals', () => {
  it('only a RequestError with the REQUEST_CONFLICT code is one; its name says what it is', async () => {
    const { RequestError } = await import('../../lambdas/core/errors.js');
    expect(isRequestConflict(new RequestError('INVALID_REQUEST', 'x', 'requestId'))).toBe(false);
    expect(isRequestConflict(Object.assign(new Error('x'), { code: 'REQUEST_CONFLICT' }))).toBe(false);
    expect(new RequestError('REQUEST_CONFLICT', 'x', 'requestId').name).toBe('RequestError');
  });
});
