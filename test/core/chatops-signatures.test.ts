import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InMemoryReplayGuard, chatRequestId, verifySlackSignature, verifyTeamsSignature } from '../../lambdas/core/chatops/index.js';

// Slack's published example ("Verifying requests from Slack", api.slack.com/authentication/verifying-requests-from-slack).
const SLACK = {
  signingSecret: '8f742231b10e8888abcd99yyyzzz85a5',
  timestamp: '1531420618',
  body:
    'token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar' +
    '&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com' +
    '%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c',
  signature: 'v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503',
};
const SLACK_NOW = new Date(1531420618 * 1000 + 10_000);

// Teams vectors computed outside this code with `openssl dgst -sha256 -mac HMAC -macopt hexkey:<decoded token> -binary | base64`.
const TEAMS_TOKEN = 'Zm9vYmFyYmF6cXV4LXRlYW1zLXNlY3VyaXR5LXRva2Vu';
const TEAMS_BODY =
  '{"type":"message","id":"1485983408511","timestamp":"2026-11-27T12:00:00.000Z","text":"<at>Beacon</at>&nbsp;apply i-0123456789abcdef0 default-https",' +
  '"from":{"id":"29:1XJKJMvc5GBtc2JwZq0oj8tHZmzrQgFmB","name":"Ops User","aadObjectId":"6c9f7a2e-1a2b-4c3d-8e9f-0a1b2c3d4e5f"},' +
  '"conversation":{"id":"19:abc@thread.skype;messageid=1485983408511"},"channelData":{"teamsChannelId":"19:abc@thread.skype","channel":{"id":"19:abc@thread.skype"}}}';
const TEAMS_AUTH = 'HMAC lRlKqPa9wKWVV9DdPXXleqr75KPqduje73FmbEBMf3o=';
const TEAMS_UTF8_BODY = '{"type":"message","text":"plan tag:Site=Zürich default"}';
const TEAMS_UTF8_AUTH = 'HMAC doz6UW9sXKk7wF4UbujZAM3FqNrV6kByqWcsK56giNQ=';

describe('Slack request signatures (v0)', () => {
  it("Slack's published documentation example verifies", () => {
    expect(verifySlackSignature({ ...SLACK, now: SLACK_NOW })).toEqual({ ok: true });
  });

  it('accepts the raw body as bytes too, and an upper-case hex signature', () => {
    expect(verifySlackSignature({ ...SLACK, body: Buffer.from(SLACK.body), now: SLACK_NOW })).toEqual({ ok: true });
    expect(verifySlackSignature({ ...SLACK, signature: SLACK.signature.toUpperCase().replace('V0=', 'v0='), now: SLACK_NOW })).toEqual({ ok: true });
  });

  it('a tampered body fails', () => {
    expect(verifySlackSignature({ ...SLACK, body: SLACK.body.replace('text=', 'text=apply'), now: SLACK_NOW })).toEqual({ ok: false, reason: 'mismatch' });
    expect(verifySlackSignature({ ...SLACK, body: `${SLACK.body} `, now: SLACK_NOW })).toEqual({ ok: false, reason: 'mismatch' });
  });

  it('a tampered timestamp fails (inside the window: mismatch)', () => {
    expect(verifySlackSignature({ ...SLACK, timestamp: '1531420619', now: SLACK_NOW })).toEqual({ ok: false, reason: 'mismatch' });
  });

  it('a tampered signature or another secret fails', () => {
    const flipped = SLACK.signature.slice(0, -1) + (SLACK.signature.endsWith('3') ? '4' : '3');
    expect(verifySlackSignature({ ...SLACK, signature: flipped, now: SLACK_NOW })).toEqual({ ok: false, reason: 'mismatch' });
    expect(verifySlackSignature({ ...SLACK, signingSecret: `${SLACK.signingSecret}x`, now: SLACK_NOW })).toEqual({ ok: false, reason: 'mismatch' });
  });

  it('a timestamp more than 5 minutes away fails, in either direction; exactly 300 s passes', () => {
    const at = (seconds: number) => new Date((1531420618 + seconds) * 1000);
    expect(verifySlackSignature({ ...SLACK, now: at(301) })).toEqual({ ok: false, reason: 'stale-timestamp' });
    expect(verifySlackSignature({ ...SLACK, now: at(-301) })).toEqual({ ok: false, reason: 'stale-timestamp' });
    expect(verifySlackSignature({ ...SLACK, now: at(300) })).toEqual({ ok: true });
    expect(verifySlackSignature({ ...SLACK, now: new Date(Number.NaN) })).toEqual({ ok: false, reason: 'stale-timestamp' });
  });

  it.each([
    ['no signature', { signature: undefined }, 'missing'],
    ['empty signature', { signature: '' }, 'missing'],
    ['no timestamp', { timestamp: null }, 'missing'],
    ['empty secret', { signingSecret: '' }, 'missing'],
    ['timestamp with letters', { timestamp: '1531420618abc' }, 'malformed-timestamp'],
    ['negative timestamp', { timestamp: '-1531420618' }, 'malformed-timestamp'],
    ['fractional timestamp', { timestamp: '1531420618.5' }, 'malformed-timestamp'],
    ['v1 scheme', { signature: SLACK.signature.replace('v0=', 'v1=') }, 'malformed-signature'],
    ['short hex', { signature: 'v0=abcd' }, 'malformed-signature'],
    ['not hex', { signature: `v0=${'z'.repeat(64)}` }, 'malformed-signature'],
    ['bare hex', { signature: SLACK.signature.slice(3) }, 'malformed-signature'],
  ])('%s -> %s, without throwing', (_name, change, reason) => {
    expect(verifySlackSignature({ ...SLACK, now: SLACK_NOW, ...(change as object) })).toEqual({ ok: false, reason });
  });

  it('never throws on garbage input', () => {
    fc.assert(
      fc.property(fc.anything(), fc.anything(), fc.anything(), fc.anything(), (secret, timestamp, body, signature) => {
        const result = verifySlackSignature({ signingSecret: secret, timestamp, body, signature, now: SLACK_NOW } as never);
        expect(result.ok).toBe(false);
      }),
    );
  });
});

describe('Teams outgoing webhook signatures (HMAC)', () => {
  it('an independently computed vector verifies', () => {
    expect(verifyTeamsSignature({ securityToken: TEAMS_TOKEN, body: TEAMS_BODY, authorizationHeader: TEAMS_AUTH })).toEqual({ ok: true });
  });

  it('hashes the body as UTF-8 (non-ASCII characters)', () => {
    expect(verifyTeamsSignature({ securityToken: TEAMS_TOKEN, body: TEAMS_UTF8_BODY, authorizationHeader: TEAMS_UTF8_AUTH })).toEqual({ ok: true });
  });

  it('a tampered body, signature or token fails', () => {
    expect(verifyTeamsSignature({ securityToken: TEAMS_TOKEN, body: TEAMS_BODY.replace('apply', 'plan'), authorizationHeader: TEAMS_AUTH })).toEqual({ ok: false, reason: 'mismatch' });
    expect(verifyTeamsSignature({ securityToken: TEAMS_TOKEN, body: TEAMS_BODY, authorizationHeader: TEAMS_UTF8_AUTH })).toEqual({ ok: false, reason: 'mismatch' });
    const otherToken = Buffer.from('another-teams-security-token-000').toString('base64');
    expect(verifyTeamsSignature({ securityToken: otherToken, body: TEAMS_BODY, authorizationHeader: TEAMS_AUTH })).toEqual({ ok: false, reason: 'mismatch' });
  });

  it('keys with the base64-decoded token, not the token text', () => {
    const keyedWithText = createHmac('sha256', TEAMS_TOKEN).update(TEAMS_BODY).digest('base64');
    expect(verifyTeamsSignature({ securityToken: TEAMS_TOKEN, body: TEAMS_BODY, authorizationHeader: `HMAC ${keyedWithText}` })).toEqual({ ok: false, reason: 'mismatch' });
  });

  it.each([
    ['no header', { authorizationHeader: undefined }, 'missing'],
    ['no token', { securityToken: '' }, 'missing'],
    ['token not base64', { securityToken: 'not base64!' }, 'malformed-secret'],
    ['Bearer scheme', { authorizationHeader: TEAMS_AUTH.replace('HMAC', 'Bearer') }, 'malformed-signature'],
    ['truncated digest', { authorizationHeader: 'HMAC lRlKqPa9wKWVV9DdPXXleqr75KPqdu==' }, 'malformed-signature'],
    ['non-canonical base64', { authorizationHeader: 'HMAC lRlKqPa9wKWVV9DdPXXleqr75KPqduje73FmbEBMf3p=' }, 'malformed-signature'],
    ['digest not base64', { authorizationHeader: 'HMAC ****' }, 'malformed-signature'],
  ])('%s -> %s', (_name, change, reason) => {
    expect(verifyTeamsSignature({ securityToken: TEAMS_TOKEN, body: TEAMS_BODY, authorizationHeader: TEAMS_AUTH, ...(change as object) })).toEqual({ ok: false, reason });
  });

  it('never throws on garbage input', () => {
    fc.assert(
      fc.property(fc.anything(), fc.anything(), fc.anything(), (securityToken, body, authorizationHeader) => {
        expect(verifyTeamsSignature({ securityToken, body, authorizationHeader } as never).ok).toBe(false);
      }),
    );
  });
});

describe('replay guard', () => {
  const t0 = new Date('2026-11-27T12:00:00Z');
  const later = (seconds: number) => new Date(t0.getTime() + seconds * 1000);

  it('a message id seen before is refused', async () => {
    const guard = new InMemoryReplayGuard();
    expect(await guard.firstSeen('1485983408511', t0)).toBe(true);
    expect(await guard.firstSeen('1485983408511', later(5))).toBe(false);
    expect(await guard.firstSeen('1485983408512', later(5))).toBe(true);
  });

  it('ids are forgotten after the retention window', async () => {
    const guard = new InMemoryReplayGuard({ ttlSeconds: 60 });
    await guard.firstSeen('a', t0);
    expect(await guard.firstSeen('a', later(59))).toBe(false);
    expect(await guard.firstSeen('a', later(61))).toBe(true);
  });

  it('keeps at most maxEntries ids, forgetting the oldest', async () => {
    const guard = new InMemoryReplayGuard({ maxEntries: 2 });
    await guard.firstSeen('a', t0);
    await guard.firstSeen('b', t0);
    await guard.firstSeen('c', t0);
    expect(await guard.firstSeen('c', t0)).toBe(false);
    expect(await guard.firstSeen('a', t0)).toBe(true);
  });

  it('chat request ids are stable per message and fit the request id pattern', () => {
    expect(chatRequestId('slack', 'x')).toBe(chatRequestId('slack', 'x'));
    expect(chatRequestId('slack', 'x')).not.toBe(chatRequestId('teams', 'x'));
    expect(chatRequestId('teams', '1485983408511')).toMatch(/^teams-[0-9a-f]{24}$/);
  });
});
