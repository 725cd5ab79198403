/**
 * What the webhook reads from Slack and Teams bodies (lambdas/core/chatops/platforms.ts): who sent the
 * command, where, the command text, and where a delayed Slack answer may go (never an arbitrary URL).
 */
import { describe, expect, it } from 'vitest';
import { SLACK_RESPONSE_HOSTS, parseSlackSlashCommand, parseTeamsActivity, teamsCommandText } from '../../lambdas/core/chatops/platforms.js';

const slackBody = (fields: Record<string, string>) => new URLSearchParams({ command: '/beacon', user_id: 'U1', channel_id: 'C1', ...fields }).toString();

describe('Slack slash command bodies', () => {
  it('fields Slack did not send are null, and a missing text is an empty command (the webhook answers with the usage)', () => {
    expect(parseSlackSlashCommand(slackBody({}))).toEqual({ command: '/beacon', text: '', userId: 'U1', userName: null, channelId: 'C1', teamId: null, responseUrl: null, triggerId: null });
  });

  it('a body without the command, the user or the channel is not a slash command', () => {
    for (const missing of ['command', 'user_id', 'channel_id']) {
      const form = new URLSearchParams({ command: '/beacon', user_id: 'U1', channel_id: 'C1' });
      form.delete(missing);
      expect(parseSlackSlashCommand(form.toString())).toBeNull();
      form.set(missing, '');
      expect(parseSlackSlashCommand(form.toString())).toBeNull();
    }
  });

  it('the delayed answer goes only to https on Slack\'s hook hosts (commercial and GovSlack), default port, no user info', () => {
    expect(SLACK_RESPONSE_HOSTS).toEqual(['hooks.slack.com', 'hooks.slack-gov.com']);
    expect(parseSlackSlashCommand(slackBody({ response_url: 'https://hooks.slack-gov.com/commands/T1/2/abc' }))?.responseUrl).toBe('https://hooks.slack-gov.com/commands/T1/2/abc');
    expect(parseSlackSlashCommand(slackBody({ response_url: 'https://hooks.slack.com:443/commands/T1/2/abc' }))?.responseUrl).toBe('https://hooks.slack.com/commands/T1/2/abc');
    for (const url of ['https://user@hooks.slack.com/commands/T1', 'https://user:pw@hooks.slack.com/commands/T1', 'not a url', 'https://slack.com/commands/T1']) {
      expect(parseSlackSlashCommand(slackBody({ response_url: url }))?.responseUrl).toBeNull();
    }
  });
});

describe('Teams message text: the command without the bot mention and the HTML', () => {
  it('removes every mention, whatever its case and even across lines', () => {
    expect(teamsCommandText('<AT>Beacon\nProxy</AT> help')).toBe('help');
    expect(teamsCommandText('<at>Beacon</at> status <at>Someone</at> r1')).toBe('status   r1');
  });

  it('a line break is a space between words, whatever its spelling', () => {
    expect(teamsCommandText('status<br>r1')).toBe('status r1');
    expect(teamsCommandText('status<BR/>r1')).toBe('status r1');
    expect(teamsCommandText('status<br />r1')).toBe('status r1');
  });

  it('other markup is dropped, keeping the words', () => {
    expect(teamsCommandText('<p>apply <b>i-0123456789abcdef0</b> <span class="x">default</span></p>')).toBe('apply i-0123456789abcdef0 default');
  });

  it('decodes the entities Teams writes, and leaves others as typed', () => {
    expect(teamsCommandText('a&nbsp;b &amp; &lt;c&gt; &quot;d&quot; &apos;e&#39;')).toBe('a b & <c> "d" \'e\'');
    expect(teamsCommandText('x &copy; &#40;')).toBe('x &copy; &#40;');
    // Decoded once: an escaped entity stays an entity.
    expect(teamsCommandText('&amp;lt;')).toBe('&lt;');
  });

  it('surrounding blanks are trimmed', () => {
    expect(teamsCommandText('  <at>Bot</at>  help \n')).toBe('help');
  });
});

describe('Teams activities: who sent the message, and where', () => {
  const base = { type: 'message', id: 'm1', text: '<at>Bot</at> help', from: { id: '29:teams-user', name: 'Ops User' }, conversation: { id: '19:conversation' } };

  it('without an AAD object id the Teams user id is the caller; the conversation is the channel when Teams names no channel', () => {
    expect(parseTeamsActivity(base)).toEqual({ messageId: 'm1', text: 'help', userId: '29:teams-user', aadObjectId: null, userName: 'Ops User', channelId: '19:conversation' });
  });

  it('the channel is channelData.teamsChannelId, else channelData.channel.id, else the conversation', () => {
    expect(parseTeamsActivity({ ...base, channelData: { channel: { id: '19:channel' } } })?.channelId).toBe('19:channel');
    expect(parseTeamsActivity({ ...base, channelData: { teamsChannelId: '19:teams-channel', channel: { id: '19:channel' } } })?.channelId).toBe('19:teams-channel');
  });

  it('empty strings count as absent: an empty AAD id falls back to the Teams id, an empty name is null', () => {
    expect(parseTeamsActivity({ ...base, from: { id: '29:teams-user', aadObjectId: '', name: '' } })).toMatchObject({ userId: '29:teams-user', aadObjectId: null, userName: null });
  });

  it('a message without text is an empty command', () => {
    const { text: _text, ...withoutText } = base;
    expect(parseTeamsActivity(withoutText)?.text).toBe('');
  });

  it('not a message with an id, a sender and a channel or conversation: null', () => {
    const { conversation: _conversation, ...noChannel } = base;
    expect(parseTeamsActivity(noChannel)).toBeNull();
    expect(parseTeamsActivity({ ...base, id: '' })).toBeNull();
    expect(parseTeamsActivity({ ...base, from: { name: 'Ops User' } })).toBeNull();
    expect(parseTeamsActivity({ ...base, type: undefined })).toBeNull();
    expect(parseTeamsActivity({ ...base, from: 'someone' })).toBeNull();
    expect(parseTeamsActivity('null')).toBeNull();
    expect(parseTeamsActivity(null)).toBeNull();
  });

  it('the raw JSON text and the parsed body read the same', () => {
    expect(parseTeamsActivity(JSON.stringify(base))).toEqual(parseTeamsActivity(base));
  });
});
