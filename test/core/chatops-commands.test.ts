import { describe, expect, it } from 'vitest';
import {
  CHAT_HELP_LINES,
  type ChatCommandResult,
  buildRequestFromProfile,
  isAllowed,
  parseChatCommand,
  parseProfileText,
  parseSlackSlashCommand,
  parseTeamsActivity,
} from '../../lambdas/core/chatops/index.js';
import type { Target } from '../../lambdas/core/request.js';
import { SECRET_ARN } from '../support/requests.js';
import { refusal } from '../support/refusal.js';

const ID = 'i-0123456789abcdef0';
const MI = 'mi-0123456789abcdef0';

function refused(result: ChatCommandResult): { code: string; message: string } {
  if (result.ok) throw new Error(`expected a refusal, got ${JSON.stringify(result.command)}`);
  return result.error;
}

describe('chat commands', () => {
  it('apply with one instance id and a profile', () => {
    expect(parseChatCommand(`apply ${ID} default-https`)).toEqual({
      ok: true,
      command: { kind: 'apply', target: { kind: 'instances', instanceIds: [ID] }, profile: 'default-https' },
    });
  });

  it('plan with a comma-separated list (spaces after commas tolerated)', () => {
    expect(parseChatCommand(`plan ${ID}, ${MI} emea.v2`)).toEqual({
      ok: true,
      command: { kind: 'plan', target: { kind: 'instances', instanceIds: [ID, MI] }, profile: 'emea.v2' },
    });
  });

  it('a tag target, with = allowed in the value', () => {
    expect(parseChatCommand('apply tag:BeaconGroup=emea=1 p')).toMatchObject({ ok: true, command: { target: { kind: 'tag', key: 'BeaconGroup', value: 'emea=1' } } });
  });

  it('verbs are case-insensitive and chat whitespace (non-breaking spaces, tabs) is tolerated', () => {
    expect(parseChatCommand(`  APPLY\u00a0${ID}\t default `)).toMatchObject({ ok: true, command: { kind: 'apply', profile: 'default' } });
  });

  it('rollback and retry act on one beacon by instance id', () => {
    expect(parseChatCommand(`rollback ${ID}`)).toEqual({ ok: true, command: { kind: 'rollback', instanceId: ID } });
    expect(parseChatCommand(`Retry ${MI}`)).toEqual({ ok: true, command: { kind: 'retry', instanceId: MI } });
  });

  it('status and help', () => {
    expect(parseChatCommand('status slack-3f2a9c0d1e2b3c4d5e6f7a8b')).toEqual({ ok: true, command: { kind: 'status', requestId: 'slack-3f2a9c0d1e2b3c4d5e6f7a8b' } });
    expect(parseChatCommand('help')).toEqual({ ok: true, command: { kind: 'help' } });
  });

  it.each([
    ['', 'EMPTY_COMMAND', /apply/],
    ['   ', 'EMPTY_COMMAND', /apply/],
    ['deploy i-0123456789abcdef0 p', 'UNKNOWN_COMMAND', /Try: apply <target> <profile>/],
    ['apply', 'MISSING_ARGUMENT', /needs a target and a profile: apply <target> <profile>/],
    [`apply ${ID}`, 'MISSING_ARGUMENT', /e\.g\. apply i-0123456789abcdef0 default-https/],
    [`apply ${ID} ${MI} p`, 'TOO_MANY_ARGUMENTS', /separate instance ids with commas/],
    ['apply i-123 p', 'INVALID_TARGET', /"i-123" is not a target: give an instance id/],
    [`apply ${ID.toUpperCase()} p`, 'INVALID_TARGET', /hex digits/],
    [`apply ${ID},${ID} p`, 'INVALID_TARGET', /listed twice/],
    ['apply tag:BeaconGroup p', 'INVALID_TARGET', /tag:Key=Value/],
    ['apply tag:=emea p', 'INVALID_TARGET', /tag:Key=Value/],
    ['apply tag:Beacon Group=emea p', 'TOO_MANY_ARGUMENTS', /exactly a target and a profile/],
    [`apply ${ID} http://proxy.corp:8080`, 'INVALID_PROFILE', /never proxy URLs/],
    [`apply ${ID} ${'p'.repeat(65)}`, 'INVALID_PROFILE', /1-64/],
    ['status', 'MISSING_ARGUMENT', /status <requestId>/],
    ['status a b', 'TOO_MANY_ARGUMENTS', /one request id/],
    ['status $(whoami)', 'INVALID_REQUEST_ID', /not a request id/],
    ['help me', 'TOO_MANY_ARGUMENTS', /type help/],
    ['rollback', 'MISSING_ARGUMENT', /rollback needs one instance id: rollback <instanceId>/],
    [`rollback ${ID},${MI}`, 'TOO_MANY_ARGUMENTS', /one beacon at a time/],
    [`retry ${ID} ${MI}`, 'TOO_MANY_ARGUMENTS', /one beacon at a time/],
    ['retry tag:BeaconGroup=emea', 'INVALID_TARGET', /not an instance id/],
    ['rollback i-123', 'INVALID_TARGET', /not an instance id/],
  ])('%j -> %s with advice', (text, code, advice) => {
    const error = refused(parseChatCommand(text));
    expect(error.code).toBe(code);
    expect(error.message).toMatch(advice);
  });

  it('more than 50 instance ids: use a tag', () => {
    const ids = Array.from({ length: 51 }, (_, i) => `i-${i.toString(16).padStart(17, '0')}`).join(',');
    expect(refused(parseChatCommand(`apply ${ids} p`))).toMatchObject({ code: 'INVALID_TARGET', message: expect.stringMatching(/tag:Key=Value/) });
  });

  it('over-long text is refused before parsing', () => {
    expect(refused(parseChatCommand(`apply ${'x'.repeat(5000)}`)).code).toBe('TOO_LONG');
  });

  it('non-string input is refused, not thrown', () => {
    expect(parseChatCommand(undefined as never).ok).toBe(false);
  });

  it('help lists every command', () => {
    const help = CHAT_HELP_LINES.join('\n');
    for (const verb of ['apply <target> <profile>', 'plan <target> <profile>', 'status <requestId>', 'rollback <instanceId>', 'retry <instanceId>', 'help', 'tag:Key=Value']) expect(help).toContain(verb);
  });
});

describe('profiles become requests validated like any request', () => {
  const profile = {
    protocol: 'https',
    proxy: 'proxy.corp.example:8080',
    account: { kind: 'domain', name: 'CORP\\svc-beacon', passwordSecretArn: SECRET_ARN },
  };
  const target: Target = { kind: 'instances', instanceIds: [ID] };


  it('a valid profile gives the queue input and the parsed request', () => {
    const { input, request } = buildRequestFromProfile(profile, target, 'slack-0123456789abcdef01234567');
    expect(input).toEqual({ ...profile, requestId: 'slack-0123456789abcdef01234567', target: { instanceIds: [ID] } });
    expect(request.requestId).toBe('slack-0123456789abcdef01234567');
    expect(request.target).toEqual(target);
    expect(request.proxy).toEqual({ host: 'proxy.corp.example', port: 8080 });
  });

  it('a tag target becomes target.tag', () => {
    const { input } = buildRequestFromProfile(profile, { kind: 'tag', key: 'BeaconGroup', value: 'emea' }, 'r1');
    expect(input.target).toEqual({ tag: { key: 'BeaconGroup', value: 'emea' } });
  });

  it.each([
    ['an authenticating proxy', { ...profile, proxy: 'http://user:pw@proxy.corp.example:8080' }, 'PROXY_AUTH_UNSUPPORTED', 'proxy'],
    ['a PAC script', { ...profile, proxy: 'http://wpad.corp.example/wpad.dat' }, 'PAC_UNSUPPORTED', 'proxy'],
    ['a password field', { ...profile, account: { ...profile.account, password: 'x' } }, 'INVALID_ACCOUNT', 'account.password'],
    ['an unknown field', { ...profile, colour: 'blue' }, 'INVALID_REQUEST', 'colour'],
    ['CRL off without acknowledgement', { ...profile, checkCertificateRevocation: { disable: true } }, 'CRL_ACK_REQUIRED', 'checkCertificateRevocation.acknowledgeRisk'],
    ['pin latest', { ...profile, beaconVersion: { pin: 'latest' } }, 'INVALID_REQUEST', 'beaconVersion.pin'],
    ['a target inside the profile', { ...profile, target: { instanceIds: [ID] } }, 'INVALID_TARGET', 'target'],
    ['a requestId inside the profile', { ...profile, requestId: 'fixed' }, 'INVALID_REQUEST', 'requestId'],
  ])('%s surfaces as %s at %s', (_name, stored, code, field) => {
    const error = refusal(() => buildRequestFromProfile(stored, target, 'r1'));
    expect(error.code).toBe(code);
    expect(error.field).toBe(field);
  });

  it('a profile that is not an object, or not JSON, is refused', () => {
    for (const stored of [null, [], 'text', 42]) expect(refusal(() => buildRequestFromProfile(stored, target, 'r1')).code).toBe('INVALID_REQUEST');
    expect(refusal(() => parseProfileText('{"protocol":')).message).toMatch(/not valid JSON/);
    expect(parseProfileText(JSON.stringify(profile))).toEqual(profile);
  });

  it('an invalid request id from the caller is refused by parseRequest', () => {
    expect(refusal(() => buildRequestFromProfile(profile, target, 'has space')).field).toBe('requestId');
  });
});

describe('allowlist', () => {
  const allowlist = { users: ['U2CERLKJA'], channels: ['G8PSS9T3V', 'C0000001'] };
  it('admits a listed user in a listed channel only', () => {
    expect(isAllowed({ userId: 'U2CERLKJA', channelId: 'G8PSS9T3V' }, allowlist)).toBe(true);
    expect(isAllowed({ userId: 'U2CERLKJA', channelId: 'C9999999' }, allowlist)).toBe(false);
    expect(isAllowed({ userId: 'U0000000', channelId: 'G8PSS9T3V' }, allowlist)).toBe(false);
  });
  it('* admits any; empty lists admit nobody; empty ids never pass', () => {
    expect(isAllowed({ userId: 'U0000000', channelId: 'G8PSS9T3V' }, { ...allowlist, users: ['*'] })).toBe(true);
    expect(isAllowed({ userId: 'U2CERLKJA', channelId: 'G8PSS9T3V' }, { users: [], channels: [] })).toBe(false);
    expect(isAllowed({ userId: '', channelId: 'G8PSS9T3V' }, { users: ['*'], channels: ['*'] })).toBe(false);
  });
});

describe('Slack and Teams payloads', () => {
  it('reads a slash command form body', () => {
    const body = new URLSearchParams({
      command: '/beacon',
      text: `apply ${ID} default-https`,
      user_id: 'U2CERLKJA',
      user_name: 'roadrunner',
      channel_id: 'G8PSS9T3V',
      team_id: 'T1DC2JH3J',
      response_url: 'https://hooks.slack.com/commands/T1DC2JH3J/397700885554/96rGlfmibIGlgcZRskXaIFfN',
      trigger_id: '398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c',
    }).toString();
    expect(parseSlackSlashCommand(body)).toEqual({
      command: '/beacon',
      text: `apply ${ID} default-https`,
      userId: 'U2CERLKJA',
      userName: 'roadrunner',
      channelId: 'G8PSS9T3V',
      teamId: 'T1DC2JH3J',
      responseUrl: 'https://hooks.slack.com/commands/T1DC2JH3J/397700885554/96rGlfmibIGlgcZRskXaIFfN',
      triggerId: '398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c',
    });
  });

  it('drops a response_url that is not Slack', () => {
    for (const url of ['http://hooks.slack.com/x', 'https://hooks.slack.com.evil.example/x', 'https://169.254.169.254/latest', 'https://hooks.slack.com:8443/x']) {
      expect(parseSlackSlashCommand(`command=%2Fb&user_id=U1&channel_id=C1&response_url=${encodeURIComponent(url)}`)?.responseUrl).toBeNull();
    }
  });

  it('refuses a body without user or channel', () => {
    expect(parseSlackSlashCommand('command=%2Fbeacon&text=help&user_id=U1')).toBeNull();
    expect(parseSlackSlashCommand('')).toBeNull();
  });

  it('reads a Teams activity, removing the mention and HTML', () => {
    const activity = {
      type: 'message',
      id: '1485983408511',
      text: '<at>Beacon</at>&nbsp;apply <b>i-0123456789abcdef0</b> default-https<br>',
      from: { id: '29:1XJK', name: 'Ops User', aadObjectId: '6c9f7a2e-1a2b-4c3d-8e9f-0a1b2c3d4e5f' },
      conversation: { id: '19:abc@thread.skype;messageid=1485983408511' },
      channelData: { teamsChannelId: '19:abc@thread.skype' },
    };
    const parsed = parseTeamsActivity(JSON.stringify(activity));
    expect(parsed).toEqual({ messageId: '1485983408511', text: `apply ${ID} default-https`, userId: '6c9f7a2e-1a2b-4c3d-8e9f-0a1b2c3d4e5f', aadObjectId: '6c9f7a2e-1a2b-4c3d-8e9f-0a1b2c3d4e5f', userName: 'Ops User', channelId: '19:abc@thread.skype' });
    expect(parseChatCommand(parsed!.text)).toMatchObject({ ok: true, command: { kind: 'apply' } });
  });

  it('refuses Teams bodies that are not messages with an id and a sender', () => {
    expect(parseTeamsActivity('not json')).toBeNull();
    expect(parseTeamsActivity({ type: 'message', text: 'help', from: { id: 'x' }, conversation: { id: 'c' } })).toBeNull();
    expect(parseTeamsActivity({ type: 'conversationUpdate', id: '1', from: { id: 'x' }, conversation: { id: 'c' } })).toBeNull();
  });
});

describe("operators' actions in chat (the same as the API and the CLI)", () => {
  it('cancel [rollback], go and confirm-pin parse; anything else says what to type', () => {
    expect(parseChatCommand('cancel slack-1a2b rollback')).toEqual({ ok: true, command: { kind: 'cancel', requestId: 'slack-1a2b', rollback: true } });
    expect(parseChatCommand('cancel slack-1a2b')).toEqual({ ok: true, command: { kind: 'cancel', requestId: 'slack-1a2b', rollback: false } });
    expect(parseChatCommand('go slack-1a2b')).toEqual({ ok: true, command: { kind: 'go', requestId: 'slack-1a2b' } });
    expect(parseChatCommand('confirm-pin pin-slack-1a2b')).toEqual({ ok: true, command: { kind: 'confirm-pin', pinId: 'pin-slack-1a2b' } });
    expect(parseChatCommand('cancel slack-1a2b now')).toMatchObject({ ok: false, error: { code: 'TOO_MANY_ARGUMENTS', message: expect.stringContaining('cancel <requestId> [rollback]') } });
    expect(parseChatCommand('confirm-pin 13.2.0')).toMatchObject({ ok: false, error: { code: 'INVALID_REQUEST_ID' } });
    expect(parseChatCommand('go')).toMatchObject({ ok: false, error: { code: 'MISSING_ARGUMENT' } });
  });
});
