/**
 * Chat rules the first mutation run of lambdas/core/chatops found unpinned: the exact refusals of the
 * command parser at their boundaries, signatures with whitespace and malformed headers, the replay guard
 * with messages handled out of time order, profile refusal codes, the plan's lines, and the change summary
 * of a request at its limits.
 */
import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { BeaconChangeView } from '../../lambdas/core/change-summary.js';
import { chatChangeSummary } from '../../lambdas/core/chatops/change-summary.js';
import { MAX_COMMAND_LENGTH, parseChatCommand } from '../../lambdas/core/chatops/command.js';
import type { ChatCommandResult } from '../../lambdas/core/chatops/types.js';
import { buildRequestFromProfile, parseProfileText } from '../../lambdas/core/chatops/profile.js';
import { InMemoryReplayGuard } from '../../lambdas/core/chatops/replay.js';
import { replyHelp, replyPlan } from '../../lambdas/core/chatops/replies.js';
import { verifySlackSignature, verifyTeamsSignature } from '../../lambdas/core/chatops/signatures.js';
import { renderDesiredState } from '../../lambdas/core/desired-state.js';
import { RequestError } from '../../lambdas/core/errors.js';
import { LIMITS } from '../../lambdas/core/limits.js';
import { SECRET_ARN } from '../support/requests.js';

const ID = 'i-0123456789abcdef0';
const MI = 'mi-0123456789abcdef0';

function refused(result: ChatCommandResult): { code: string; message: string } {
  if (result.ok) throw new Error(`expected a refusal, got ${JSON.stringify(result.command)}`);
  return result.error;
}

function requestError(run: () => unknown): RequestError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(RequestError);
    return error as RequestError;
  }
  throw new Error('expected a RequestError');
}

describe('chat command refusals, exactly', () => {
  it('a tag target only when the text starts with tag: (any case)', () => {
    expect(parseChatCommand('apply TAG:BeaconGroup=emea p')).toMatchObject({ ok: true, command: { target: { kind: 'tag', key: 'BeaconGroup', value: 'emea' } } });
    expect(refused(parseChatCommand('apply xtag:a=b p'))).toMatchObject({ code: 'INVALID_TARGET', message: expect.stringMatching(/^"xtag:a=b" is not a target/) });
  });

  it('a tag key or value with characters a tag cannot hold: which part, and what it may contain', () => {
    expect(refused(parseChatCommand('apply tag:Beacon#Group=emea p'))).toEqual({ code: 'INVALID_TARGET', message: 'tag key "Beacon#Group" must be 1-128 letters, digits or _.:/=+@-' });
    expect(refused(parseChatCommand('apply tag:BeaconGroup=emea#1 p'))).toEqual({ code: 'INVALID_TARGET', message: 'tag value "emea#1" must be up to 256 letters, digits or _.:/=+@-' });
  });

  it(`exactly ${LIMITS.maxInstanceIds} instance ids are accepted`, () => {
    const ids = Array.from({ length: LIMITS.maxInstanceIds }, (_, i) => `i-${i.toString(16).padStart(17, '0')}`);
    expect(parseChatCommand(`apply ${ids.join(',')} p`)).toMatchObject({ ok: true, command: { target: { kind: 'instances', instanceIds: ids } } });
    expect(refused(parseChatCommand(`apply ${[...ids, 'i-ffffffffffffffff0'].join(',')} p`)).message).toBe(`at most ${LIMITS.maxInstanceIds} instance ids per command; use tag:Key=Value for larger fleets`);
  });

  it('an id that is not an instance id: what an id looks like and the other ways to name beacons', () => {
    expect(refused(parseChatCommand('apply i-123 p')).message).toBe(
      '"i-123" is not a target: give an instance id (i- with 8 or 17 hex digits, or mi- with 17, e.g. i-0123456789abcdef0), several separated by commas, or tag:Key=Value',
    );
  });

  it('a space before a comma is tolerated like one after it', () => {
    expect(parseChatCommand(`apply ${ID} ,${MI} p`)).toMatchObject({ ok: true, command: { target: { instanceIds: [ID, MI] } } });
  });

  it(`text up to ${MAX_COMMAND_LENGTH} characters is parsed; longer is refused with advice`, () => {
    expect(parseChatCommand(`help${' '.repeat(MAX_COMMAND_LENGTH - 4)}`)).toEqual({ ok: true, command: { kind: 'help' } });
    expect(refused(parseChatCommand(`help${' '.repeat(MAX_COMMAND_LENGTH - 3)}`))).toEqual({ code: 'TOO_LONG', message: `the command is longer than ${MAX_COMMAND_LENGTH} characters; name a tag target instead of many ids` });
  });

  it('input that is not text: an empty command with the usage', () => {
    expect(refused(parseChatCommand(42 as never))).toEqual({ code: 'EMPTY_COMMAND', message: 'Type a command. apply <target> <profile>   e.g. apply i-0123456789abcdef0 default-https; or help' });
  });

  it('go takes only a request id; cancel takes an optional "rollback" (any case), nothing else', () => {
    expect(refused(parseChatCommand('go r1 rollback'))).toMatchObject({ code: 'TOO_MANY_ARGUMENTS', message: 'write: go <requestId>             e.g. go slack-3f2a9c0d1e2b3c4d5e6f7a8b' });
    expect(refused(parseChatCommand('cancel r1 rollback now')).code).toBe('TOO_MANY_ARGUMENTS');
    expect(parseChatCommand('cancel r1 ROLLBACK')).toEqual({ ok: true, command: { kind: 'cancel', requestId: 'r1', rollback: true } });
    expect(refused(parseChatCommand('cancel'))).toEqual({ code: 'MISSING_ARGUMENT', message: 'cancel needs the request id: cancel <requestId> [rollback]   e.g. cancel slack-3f2a9c0d1e2b3c4d5e6f7a8b rollback' });
    expect(refused(parseChatCommand('go $(id)'))).toEqual({ code: 'INVALID_REQUEST_ID', message: '"$(id)" is not a request id (1-64 letters, digits, . _ -): go <requestId>             e.g. go slack-3f2a9c0d1e2b3c4d5e6f7a8b' });
    expect(refused(parseChatCommand('cancel $(id) rollback')).code).toBe('INVALID_REQUEST_ID');
  });

  it('confirm-pin takes exactly one pin id', () => {
    const usage = 'confirm-pin takes the pin id the pin message names: confirm-pin <pinId>        e.g. confirm-pin pin-slack-3f2a9c0d1e2b3c4d5e6f7a8b';
    expect(refused(parseChatCommand('confirm-pin'))).toEqual({ code: 'MISSING_ARGUMENT', message: usage });
    expect(refused(parseChatCommand('confirm-pin pin-a pin-b'))).toEqual({ code: 'TOO_MANY_ARGUMENTS', message: usage });
    expect(refused(parseChatCommand('confirm-pin 13.2.0')).message).toBe('"13.2.0" is not a pin id (pin-<requestId>): confirm-pin <pinId>        e.g. confirm-pin pin-slack-3f2a9c0d1e2b3c4d5e6f7a8b');
  });

  it('an unknown command quotes at most 40 characters of what was typed', () => {
    const message = refused(parseChatCommand(`${'x'.repeat(50)} y`)).message;
    expect(message.startsWith(`unknown command "${'x'.repeat(40)}". Try: `)).toBe(true);
  });
});

describe('signatures: whitespace around headers, and malformed ones', () => {
  const secret = '8f742231b10e8888abcd99yyyzzz85a5';
  const now = new Date('2026-11-27T12:00:00Z');
  const timestamp = String(now.getTime() / 1000);
  const body = 'token=x&command=%2Fbeacon&text=help';
  const slackSig = `v0=${createHmac('sha256', secret).update(`v0:${timestamp}:${body}`).digest('hex')}`;

  it('Slack: a signature header with surrounding blanks verifies', () => {
    expect(verifySlackSignature({ signingSecret: secret, timestamp, body, signature: ` ${slackSig} `, now })).toEqual({ ok: true });
  });

  it('Slack and Teams: a body that is neither text nor bytes is refused as missing, never thrown', () => {
    expect(verifySlackSignature({ signingSecret: secret, timestamp, body: null as never, signature: slackSig, now })).toEqual({ ok: false, reason: 'missing' });
    const token = Buffer.from('k'.repeat(32)).toString('base64');
    expect(verifyTeamsSignature({ securityToken: token, body: 42 as never, authorizationHeader: `HMAC ${Buffer.alloc(32).toString('base64')}` })).toEqual({ ok: false, reason: 'missing' });
  });

  const key = Buffer.from('teams-outgoing-webhook-secret-0123456789');
  const token = key.toString('base64');
  const teamsBody = '{"type":"message","id":"1"}';
  const mac = createHmac('sha256', key).update(teamsBody).digest('base64');

  it('Teams: the header and the token may carry surrounding blanks', () => {
    expect(verifyTeamsSignature({ securityToken: ` ${token}\n`, body: teamsBody, authorizationHeader: `  HMAC ${mac} ` })).toEqual({ ok: true });
  });

  it('Teams: an empty header is missing; one with anything before HMAC or after the value is malformed', () => {
    expect(verifyTeamsSignature({ securityToken: token, body: teamsBody, authorizationHeader: '' })).toEqual({ ok: false, reason: 'missing' });
    expect(verifyTeamsSignature({ securityToken: token, body: teamsBody, authorizationHeader: `Bearer HMAC ${mac}` })).toEqual({ ok: false, reason: 'malformed-signature' });
    expect(verifyTeamsSignature({ securityToken: token, body: teamsBody, authorizationHeader: `HMAC ${mac},extra` })).toEqual({ ok: false, reason: 'malformed-signature' });
  });

  it('Teams: a signature that is not 32 bytes is malformed, not a mismatch', () => {
    const short = createHmac('sha256', key).update(teamsBody).digest().subarray(0, 16).toString('base64');
    expect(verifyTeamsSignature({ securityToken: token, body: teamsBody, authorizationHeader: `HMAC ${short}` })).toEqual({ ok: false, reason: 'malformed-signature' });
  });
});

describe('the replay guard when messages arrive out of time order', () => {
  const T = Date.parse('2026-01-01T00:00:00.000Z');
  const at = (seconds: number) => new Date(T + seconds * 1000);

  it('an expired id behind a younger one in memory is still new again at its expiry', async () => {
    const guard = new InMemoryReplayGuard({ ttlSeconds: 60 });
    expect(await guard.firstSeen('late', at(100))).toBe(true);
    // Handled with an earlier clock (another instance): remembered until 60 s, behind "late" (160 s).
    expect(await guard.firstSeen('early', at(0))).toBe(true);
    expect(await guard.firstSeen('early', at(59))).toBe(false);
    expect(await guard.firstSeen('early', at(60))).toBe(true);
    expect(await guard.firstSeen('late', at(60))).toBe(false);
  });

  it('an id is forgotten once its retention has passed: a later message carrying an earlier clock (another instance) is new', async () => {
    const guard = new InMemoryReplayGuard({ ttlSeconds: 60 });
    expect(await guard.firstSeen('a', at(0))).toBe(true);
    // At 60 s "a" is expired and dropped while "b" is recorded.
    expect(await guard.firstSeen('b', at(60))).toBe(true);
    expect(await guard.firstSeen('a', at(30))).toBe(true);
  });

  it('an id seen again after its expiry counts as the youngest: the size bound forgets older ids first', async () => {
    const guard = new InMemoryReplayGuard({ ttlSeconds: 60, maxEntries: 3 });
    await guard.firstSeen('y', at(50));
    await guard.firstSeen('a', at(0));
    await guard.firstSeen('z', at(55));
    // "a" expired (60 s) but sits behind "y", which is still remembered: seen again, it moves to the end.
    expect(await guard.firstSeen('a', at(70))).toBe(true);
    await guard.firstSeen('w', at(71));
    await guard.firstSeen('v', at(72));
    // Four newer ids than y, z were added after them: y and z are forgotten, "a" (seen at 70) is not.
    expect(await guard.firstSeen('a', at(73))).toBe(false);
  });
});

describe('stored profiles: refusal codes and fields', () => {
  it('too large or not JSON: INVALID_REQUEST for the whole profile ($)', () => {
    const large = requestError(() => parseProfileText(`"${'é'.repeat(LIMITS.maxRequestBytes / 2)}"`));
    expect([large.code, large.field]).toEqual(['INVALID_REQUEST', '$']);
    const broken = requestError(() => parseProfileText('{'));
    expect([broken.code, broken.field]).toEqual(['INVALID_REQUEST', '$']);
    const notObject = requestError(() => buildRequestFromProfile([], { kind: 'tag', key: 'k', value: 'v' }, 'r1'));
    expect([notObject.code, notObject.field]).toEqual(['INVALID_REQUEST', '$']);
  });

  it('a profile naming its own target says the chat command gives it', () => {
    expect(requestError(() => buildRequestFromProfile({ target: {} }, { kind: 'tag', key: 'k', value: 'v' }, 'r1')).message).toBe(
      'a profile does not contain target: the chat command gives it. Remove target from the stored profile',
    );
  });
});

describe('the plan in chat, line by line', () => {
  const profile = { protocol: 'https', proxy: 'proxy.corp.example:8080', account: { kind: 'domain', name: 'CORP\\svc-beacon', passwordSecretArn: SECRET_ARN } };
  const plan = (stored: Record<string, unknown>, options: { profile?: string } = {}) => {
    const { request } = buildRequestFromProfile(stored, { kind: 'tag', key: 'BeaconGroup', value: 'emea' }, 'slack-abc');
    return replyPlan(request, renderDesiredState(request), options);
  };

  it('target, profile, protocol and proxy first; the account, what runs as it and the pin last; nothing changed', () => {
    const reply = plan(profile, { profile: 'default-https' });
    expect(reply.kind).toBe('plan');
    expect(reply.title).toBe('Plan for request slack-abc');
    expect(reply.lines.slice(0, 4)).toEqual(['Target: tag BeaconGroup=emea', 'Profile: default-https', 'Protocol: https', 'Proxy: proxy.corp.example:8080']);
    expect(reply.lines.slice(-5)).toEqual([
      'WinINet (account): proxy proxy.corp.example:8080, bypass <local>, automatic configuration script removed',
      'Account: domain CORP\\svc-beacon, local Administrators, rights SeServiceLogonRight, SeBatchLogonRight',
      'Runs as the account: service "FlexNet Beacon Engine" (restarted), tasks "Upload third party inventory data", "Upload Flexera logs and inventories"',
      "FNMS approved beacon version: the beacon's current version",
      'Nothing was changed. Run apply with the same target and profile to configure.',
    ]);
  });

  it('without a profile name no profile line; an empty bypass, a pinned release with downgrade', () => {
    const reply = plan({ ...profile, bypass: [], beaconVersion: { pin: '13.2.0', allowDowngrade: true }});
    expect(reply.lines[1]).toBe('Protocol: https');
    expect(reply.lines).toContain('WinINet (account): proxy proxy.corp.example:8080, bypass (none), automatic configuration script removed');
    expect(reply.lines).toContain('FNMS approved beacon version: 13.2.0 (downgrade allowed)');
    expect(reply.lines.join('\n')).not.toContain('Certificate revocation');
  });

  it('a local account is created if missing', () => {
    const reply = plan({ ...profile, account: { kind: 'local', name: 'svc-beacon', passwordSecretArn: SECRET_ARN } });
    expect(reply.lines.find((line) => line.startsWith('Account: '))).toMatch(/^Account: local \S+ \(created if missing\), local Administrators, rights /);
  });

  it('help: its kind and title', () => {
    expect(replyHelp()).toMatchObject({ kind: 'help', title: 'Beacon proxy commands' });
  });
});

describe('the change summary of a request at its limits', () => {
  const change = (n: number) => ({ id: `registry:Value${n}`, before: 'absent', after: `REG_SZ ${n}` });
  const changes = (count: number) => Array.from({ length: count }, (_, n) => change(n));

  it('a plan lists only the beacons that would change, each with its changes and no reason', () => {
    const summary = chatChangeSummary({ requestId: 'p1', dryRun: true, beacons: [{ instanceId: 'i-2', state: 'dry-run', diff: [] }, { instanceId: 'i-3', state: 'dry-run' }, { instanceId: 'i-1', state: 'dry-run', diff: changes(1), reasons: ['x'] }] });
    expect(summary).toEqual({
      kind: 'status',
      title: 'Plan of request p1',
      lines: ['Plan: 1 would change, 2 no change', 'i-1 would change', '  registry:Value0: absent -> REG_SZ 0', 'Every beacon and change: status p1'],
    });
  });

  it('a failed beacon without a reason or a diff is listed on its own line', () => {
    expect(chatChangeSummary({ requestId: 'r1', dryRun: false, beacons: [{ instanceId: 'i-1', state: 'failed' }] }).lines).toEqual(['Beacons: 1 failed', 'i-1 failed', 'Every beacon and change: status r1']);
  });

  it('three changes are shown whole; a fourth, or one left out by the verdict, is counted', () => {
    const lines = (beacon: Partial<BeaconChangeView>) => chatChangeSummary({ requestId: 'r1', dryRun: false, beacons: [{ instanceId: 'i-1', state: 'failed', ...beacon }] }).lines;
    expect(lines({ diff: changes(3) }).filter((line) => line.includes('more change'))).toEqual([]);
    expect(lines({ diff: changes(4) })).toContain('  … and 1 more change(s)');
    expect(lines({ diff: changes(2), diffOmitted: 2 })).toContain('  … and 2 more change(s)');
    expect(lines({ diff: changes(5), diffOmitted: 1 })).toContain('  … and 3 more change(s)');
    expect(lines({ diff: changes(2), restored: changes(2) })).toContain('  … and 1 more change(s)');
  });

  it('three failed beacons are all shown; a fourth is counted, in the words of a result or of a plan', () => {
    const failed = (count: number) => Array.from({ length: count }, (_, n) => ({ instanceId: `i-${n}`, state: 'failed' }));
    expect(chatChangeSummary({ requestId: 'r1', dryRun: false, beacons: failed(3) }).lines.filter((line) => line.startsWith('…'))).toEqual([]);
    expect(chatChangeSummary({ requestId: 'r1', dryRun: false, beacons: failed(4) }).lines).toContain('… and 1 more beacon(s) that failed');
    const wouldChange = Array.from({ length: 5 }, (_, n) => ({ instanceId: `i-${n}`, state: 'dry-run', diff: changes(1) }));
    expect(chatChangeSummary({ requestId: 'p1', dryRun: true, beacons: wouldChange }).lines).toContain('… and 2 more beacon(s) that would change');
  });
});
