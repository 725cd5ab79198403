import { describe, expect, it } from 'vitest';
import {
  buildRequestFromProfile,
  replyAccepted,
  replyError,
  replyHelp,
  replyPlan,
  replyStatus,
  toSlackMessage,
  toTeamsMessage,
} from '../../lambdas/core/chatops/index.js';
import { renderDesiredState } from '../../lambdas/core/desired-state.js';
import { RequestError } from '../../lambdas/core/errors.js';
import { SECRET_ARN } from '../support/requests.js';

const ID = 'i-0123456789abcdef0';

function plan(profile: Record<string, unknown>) {
  const { request } = buildRequestFromProfile(profile, { kind: 'instances', instanceIds: [ID] }, 'slack-abc');
  return replyPlan(request, renderDesiredState(request), { profile: 'default-https' });
}

const PROFILE = {
  protocol: 'https',
  proxy: 'proxy.corp.example:8080',
  bypass: ['*.corp.example', '<local>'],
  account: { kind: 'domain', name: 'CORP\\svc-beacon', passwordSecretArn: SECRET_ARN },
};

describe('chat replies', () => {
  it('accepted: request id and how to follow it, ephemeral in Slack', () => {
    const message = toSlackMessage(replyAccepted('slack-abc', { target: { kind: 'tag', key: 'BeaconGroup', value: 'emea' }, profile: 'default-https' }));
    expect(message.response_type).toBe('ephemeral');
    const text = message.blocks[0]!.text.text;
    expect(text).toContain('Request id: slack-abc');
    expect(text).toContain('status slack-abc');
    expect(text).toContain('tag BeaconGroup=emea');
  });

  it('plan: protocol, the proxy values with the Launcher http:// quirk, WinINet, account, tasks; nothing changed', () => {
    const reply = plan(PROFILE);
    const all = reply.lines.join('\n');
    expect(all).toContain('Protocol: https');
    expect(all).toContain('Common\\https_proxy = https://proxy.corp.example:8080');
    expect(all).toContain('Common\\http_proxy: remove');
    expect(all).toContain('Launcher\\CurrentVersion\\https_proxy = http://proxy.corp.example:8080');
    expect(all).toContain('WinINet (account): proxy proxy.corp.example:8080, bypass *.corp.example;<local>');
    expect(all).toContain('Account: domain CORP\\svc-beacon');
    expect(all).toContain('SeServiceLogonRight, SeBatchLogonRight');
    expect(all).toContain('"Upload third party inventory data"');
    expect(all).toContain("the beacon's current version");
    expect(all).toMatch(/Nothing was changed/);
    expect(all).not.toContain(SECRET_ARN.slice(-10));
  });

  it('plan shows a disabled revocation check loudly', () => {
    const reply = plan({ ...PROFILE, checkCertificateRevocation: { disable: true, acknowledgeRisk: true, reason: 'CA unreachable, ticket 123' } });
    expect(reply.lines.join('\n')).toContain('Certificate revocation check: DISABLED (CA unreachable, ticket 123)');
  });

  it('plan in Slack is a code block with < and & escaped', () => {
    const text = toSlackMessage(plan(PROFILE)).blocks[0]!.text.text;
    expect(text.split('\n')[1]).toBe('```');
    expect(text.endsWith('```')).toBe(true);
    expect(text).toContain('&lt;local&gt;');
    expect(text).not.toContain('<local>');
  });

  it('status: one line per beacon with the pinned version', () => {
    const reply = replyStatus({
      requestId: 'slack-abc',
      status: 'running',
      beacons: [
        { instanceId: ID, status: 'succeeded', pinnedVersion: '13.2.0' },
        { instanceId: 'mi-0123456789abcdef0', status: 'failed', detail: 'rolled back: service did not start' },
      ],
    });
    expect(reply.lines).toEqual(['Status: running', `${ID}: succeeded, FNMS pinned 13.2.0`, 'mi-0123456789abcdef0: failed - rolled back: service did not start']);
  });

  it('error: code and message; user text cannot inject Slack mentions or links', () => {
    const reply = replyError(new RequestError('INVALID_PROXY_URL', 'give host:port, not <!channel> or <https://evil.example|x>', 'proxy').toJSON().error);
    const slack = toSlackMessage(reply).blocks[0]!.text.text;
    expect(slack).toContain('*Refused: INVALID_PROXY_URL*');
    expect(slack).toContain('&lt;!channel&gt;');
    expect(slack).not.toMatch(/<!channel>|<https:/);
    expect(slack).toContain('Field: proxy');
    const teams = toTeamsMessage(reply);
    expect(teams.type).toBe('message');
    expect(teams.text).toContain('**Refused: INVALID\\_PROXY\\_URL**');
    expect(teams.text).toContain('&lt;!channel&gt;');
  });

  it('help in both formats', () => {
    expect(toSlackMessage(replyHelp()).blocks[0]!.text.text).toContain('apply &lt;target&gt; &lt;profile&gt;');
    expect(toTeamsMessage(replyHelp()).text).toContain('status &lt;requestId&gt;');
  });

  it('a long answer stays within Slack limits and keeps the code block closed', () => {
    const reply = { kind: 'plan' as const, title: 'Plan', lines: Array.from({ length: 400 }, (_, i) => `line ${i} ${'x'.repeat(20)}`) };
    const text = toSlackMessage(reply).blocks[0]!.text.text;
    expect(text.length).toBeLessThanOrEqual(3000);
    expect(text).toContain('… (cut)');
    expect(text.endsWith('\n```')).toBe(true);
  });
});
