/**
 * Who may command through chat and what a chat message may become (lambdas/core/chatops): the allowlist,
 * the replay guard at its expiry and size bound, the request id of a message, and stored profiles refused
 * before they become requests.
 */
import { describe, expect, it } from 'vitest';
import { InMemoryReplayGuard, chatRequestId } from '../../lambdas/core/chatops/replay.js';
import { buildRequestFromProfile, isAllowed, parseProfileText, targetToInput } from '../../lambdas/core/chatops/profile.js';
import { LIMITS } from '../../lambdas/core/limits.js';

describe('the allowlist: both the user and the channel, * for any, empty lists admit nobody', () => {
  const caller = (userId: string, channelId: string) => ({ userId, channelId }) as never;
  it('decides', () => {
    const allowlist = { users: ['U1'], channels: ['C1'] };
    expect(isAllowed(caller('U1', 'C1'), allowlist)).toBe(true);
    expect(isAllowed(caller('U2', 'C1'), allowlist)).toBe(false);
    expect(isAllowed(caller('U1', 'C2'), allowlist)).toBe(false);
    expect(isAllowed(caller('U9', 'C9'), { users: ['*'], channels: ['*'] })).toBe(true);
    expect(isAllowed(caller('', 'C1'), { users: ['*'], channels: ['*'] })).toBe(false);
    expect(isAllowed(caller('U1', ''), { users: ['*'], channels: ['*'] })).toBe(false);
    expect(isAllowed(caller('U1', 'C1'), { users: [], channels: [] })).toBe(false);
  });
});

describe('the replay guard', () => {
  const T = new Date('2026-01-01T00:00:00.000Z');
  const at = (seconds: number) => new Date(T.getTime() + seconds * 1000);

  it('a message is first seen once within the retention; at its expiry it is new again', async () => {
    const guard = new InMemoryReplayGuard({ ttlSeconds: 60 });
    expect(await guard.firstSeen('m1', T)).toBe(true);
    expect(await guard.firstSeen('m1', at(59.999))).toBe(false);
    expect(await guard.firstSeen('m2', at(30))).toBe(true);
    expect(await guard.firstSeen('m1', at(60))).toBe(true);
    expect(await guard.firstSeen('m1', at(61))).toBe(false);
    expect(await guard.firstSeen('m2', at(89))).toBe(false);
  });

  it('remembers an hour by default', async () => {
    const guard = new InMemoryReplayGuard();
    await guard.firstSeen('m1', T);
    expect(await guard.firstSeen('m1', at(3599))).toBe(false);
    expect(await guard.firstSeen('m1', at(3600))).toBe(true);
  });

  it('beyond its size bound the oldest id is forgotten first', async () => {
    const guard = new InMemoryReplayGuard({ maxEntries: 2 });
    for (const id of ['a', 'b', 'c']) await guard.firstSeen(id, T);
    expect(await guard.firstSeen('b', T)).toBe(false);
    expect(await guard.firstSeen('c', T)).toBe(false);
    expect(await guard.firstSeen('a', T)).toBe(true);
  });

  it('a message id is the same request id every time: the platform and 24 hex digits of its digest', () => {
    expect(chatRequestId('slack', 'k1')).toBe(chatRequestId('slack', 'k1'));
    expect(chatRequestId('slack', 'k1')).toMatch(/^slack-[0-9a-f]{24}$/);
    expect(chatRequestId('teams', 'k1')).toMatch(/^teams-[0-9a-f]{24}$/);
    expect(chatRequestId('slack', 'k1').slice(6)).toBe(chatRequestId('teams', 'k1').slice(6));
    expect(chatRequestId('slack', 'k2')).not.toBe(chatRequestId('slack', 'k1'));
  });
});

describe('stored profiles', () => {
  it('up to the request size limit; invalid JSON refused naming the parse error', () => {
    const padded = (bytes: number) => `{"a":"${'x'.repeat(bytes - 8)}"}`;
    expect(parseProfileText(padded(LIMITS.maxRequestBytes))).toMatchObject({ a: expect.any(String) });
    expect(() => parseProfileText(padded(LIMITS.maxRequestBytes + 1))).toThrow(`the profile is larger than ${LIMITS.maxRequestBytes} bytes`);
    expect(() => parseProfileText('{nope')).toThrow(/^the profile is not valid JSON \(.+\); fix the stored profile$/);
  });

  it('a profile is an object without target or requestId', () => {
    const target = { kind: 'instances' as const, instanceIds: ['i-0123456789abcdef0'] };
    for (const profile of [null, [], 'text', 5]) expect(() => buildRequestFromProfile(profile, target, 'r1')).toThrow('a profile is a JSON object: a request without target and requestId');
    expect(() => buildRequestFromProfile({ target: {} }, target, 'r1')).toThrow(expect.objectContaining({ code: 'INVALID_TARGET', field: 'target' }));
    expect(() => buildRequestFromProfile({ requestId: 'x' }, target, 'r1')).toThrow(expect.objectContaining({ code: 'INVALID_REQUEST', field: 'requestId' }));
  });

  it('targets as the request takes them', () => {
    expect(targetToInput({ kind: 'tag', key: 'k', value: 'v' })).toEqual({ tag: { key: 'k', value: 'v' } });
    expect(targetToInput({ kind: 'instances', instanceIds: ['i-1'] })).toEqual({ instanceIds: ['i-1'] });
  });
});
