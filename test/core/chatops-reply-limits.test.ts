/**
 * What a chat answer looks like at its edges (lambdas/core/chatops/replies.ts): the lines a status shows
 * for an empty, a small and a large request, what an error adds, and how Slack's 3,000-character section
 * and Teams' 20,000-character text are kept (whole lines, a visible cut mark, never a broken code block).
 */
import { describe, expect, it } from 'vitest';
import { CHAT_STATUS_BEACONS, chatStatusView, escapeSlack, replyAccepted, replyError, replyStatus, toSlackMessage, toTeamsMessage } from '../../lambdas/core/chatops/replies.js';
import type { ChatReply } from '../../lambdas/core/chatops/types.js';
import type { BeaconStatusRecord, RequestStatus } from '../../lambdas/core/ports.js';

const ID = 'i-0123456789abcdef0';

function beacon(index: number, state: BeaconStatusRecord['state'], extra: Partial<BeaconStatusRecord> = {}): BeaconStatusRecord {
  return { requestId: 'r1', instanceId: `i-${index.toString(16).padStart(17, '0')}`, state, updatedAt: `2026-12-02T10:${String(index % 60).padStart(2, '0')}:00.000Z`, ...extra };
}

function status(beacons: BeaconStatusRecord[], receivedAt = '2026-12-02T09:00:00.000Z'): RequestStatus {
  return { request: { requestId: 'r1', state: 'accepted', source: 'chat', receivedAt } as unknown as RequestStatus['request'], beacons, audit: [] };
}

describe('status of a request in chat', () => {
  it('no beacon yet: the request state, when it was received, and that no beacon started', () => {
    const view = chatStatusView('r1', status([]));
    expect(view).toEqual({ requestId: 'r1', status: 'accepted', updatedAt: '2026-12-02T09:00:00.000Z', beacons: [] });
    expect(replyStatus(view)).toEqual({ kind: 'status', title: 'Request r1', lines: ['Status: accepted (updated 2026-12-02T09:00:00.000Z)', 'No beacon started yet.'] });
  });

  it('a small request lists every beacon, its pinned version and reasons; updated is the latest change', () => {
    const view = chatStatusView('r1', status([beacon(1, 'ok', { pinnedVersion: '13.2.0' }), beacon(2, 'failed', { reasons: ['service did not start', 'rolled back'] }), beacon(3, 'queued')]));
    expect(view.updatedAt).toBe('2026-12-02T10:03:00.000Z');
    expect(view.counts).toBeUndefined();
    expect(view.beacons).toEqual([
      { instanceId: beacon(1, 'ok').instanceId, status: 'ok', pinnedVersion: '13.2.0' },
      { instanceId: beacon(2, 'ok').instanceId, status: 'failed', pinnedVersion: null, detail: 'service did not start; rolled back' },
      { instanceId: beacon(3, 'ok').instanceId, status: 'queued', pinnedVersion: null },
    ]);
    expect(replyStatus(view).lines.slice(1)).toEqual([`${beacon(1, 'ok').instanceId}: ok, FNMS pinned 13.2.0`, `${beacon(2, 'ok').instanceId}: failed - service did not start; rolled back`, `${beacon(3, 'ok').instanceId}: queued`]);
  });

  it('updated is the latest change whatever the order of the beacons', () => {
    expect(chatStatusView('r1', status([beacon(5, 'ok'), beacon(1, 'failed')])).updatedAt).toBe('2026-12-02T10:05:00.000Z');
  });

  it(`exactly ${CHAT_STATUS_BEACONS} beacons are still listed one by one; one more gives counts and only the beacons not ok or queued`, () => {
    const twenty = Array.from({ length: CHAT_STATUS_BEACONS }, (_, i) => beacon(i, 'ok'));
    expect(chatStatusView('r1', status(twenty)).beacons).toHaveLength(CHAT_STATUS_BEACONS);
    const large = [...twenty, beacon(20, 'queued'), beacon(21, 'failed'), beacon(22, 'sent')];
    const view = chatStatusView('r1', status(large));
    expect(view.counts).toBe('20 ok, 1 failed, 1 queued, 1 sent');
    expect(view.beacons.map((b) => b.status)).toEqual(['failed', 'sent']);
    expect(replyStatus(view).lines.slice(1)).toEqual(['Beacons: 20 ok, 1 failed, 1 queued, 1 sent.', 'Not ok:', `${beacon(21, 'ok').instanceId}: failed`, `${beacon(22, 'ok').instanceId}: sent`]);
  });

  it('a large request lists at most 20 beacons that are not ok', () => {
    const view = chatStatusView('r1', status(Array.from({ length: 30 }, (_, i) => beacon(i, 'failed'))));
    expect(view.beacons).toHaveLength(CHAT_STATUS_BEACONS);
  });

  it('a large request with every beacon ok: the counts only, no "Not ok:" heading', () => {
    const view = chatStatusView('r1', status(Array.from({ length: 21 }, (_, i) => beacon(i, 'ok'))));
    expect(replyStatus(view).lines.slice(1)).toEqual(['Beacons: 21 ok.']);
  });
});

describe('accepted and error replies', () => {
  it('accepted without target or profile: the id and how to follow it', () => {
    expect(replyAccepted('r1')).toEqual({ kind: 'accepted', title: 'Request accepted', lines: ['Request id: r1', 'Follow it with: status r1'] });
    expect(replyAccepted('r1', { target: { kind: 'instances', instanceIds: [ID, 'mi-0123456789abcdef0'] }, profile: 'p' }).lines).toEqual([
      'Request id: r1',
      `Target: ${ID}, mi-0123456789abcdef0`,
      'Profile: p',
      'Follow it with: status r1',
    ]);
  });

  it('an error names the field only when it is inside the request (not the whole request, $)', () => {
    expect(replyError({ code: 'INVALID_REQUEST', message: 'bad', field: '$' }).lines).toEqual(['bad', 'Type help for the commands.']);
    expect(replyError({ code: 'INVALID_REQUEST', message: 'bad' }).lines).toEqual(['bad', 'Type help for the commands.']);
    expect(replyError({ code: 'INVALID_PROXY_URL', message: 'bad', field: 'proxy' })).toEqual({ kind: 'error', title: 'Refused: INVALID_PROXY_URL', lines: ['bad', 'Field: proxy', 'Type help for the commands.'] });
  });
});

describe('rendering for Slack and Teams', () => {
  it('Slack: ephemeral by default, in the channel when asked; the title bold and escaped', () => {
    const reply: ChatReply = { kind: 'status', title: 'A & B <c>', lines: ['x'] };
    expect(toSlackMessage(reply)).toEqual({ response_type: 'ephemeral', text: 'A &amp; B &lt;c&gt;', blocks: [{ type: 'section', text: { type: 'mrkdwn', text: '*A &amp; B &lt;c&gt;*\nx' } }] });
    expect(toSlackMessage(reply, { inChannel: true }).response_type).toBe('in_channel');
    expect(escapeSlack('a&b<c>d')).toBe('a&amp;b&lt;c&gt;d');
  });

  it('Slack: status lines are plain, a plan is a code block whose user text cannot close it', () => {
    expect(toSlackMessage({ kind: 'status', title: 'T', lines: ['a', 'b'] }).blocks[0]!.text.text).toBe('*T*\na\nb');
    expect(toSlackMessage({ kind: 'plan', title: 'T', lines: ['a ``` b'] }).blocks[0]!.text.text).toBe("*T*\n```\na ''' b\n```");
    expect(toSlackMessage({ kind: 'help', title: 'T', lines: ['a'] }).blocks[0]!.text.text).toBe('*T*\n```\na\n```');
  });

  it('Slack: whole lines within the 3,000-character section; one character more and the last line gives way to a cut mark', () => {
    // Title "*T*" and its newline leave 2,996 characters for the lines, each counted with a newline.
    const text = toSlackMessage({ kind: 'status', title: 'T', lines: ['a'.repeat(1500), 'b'.repeat(1494)] }).blocks[0]!.text.text;
    expect(text).toBe(`*T*\n${'a'.repeat(1500)}\n${'b'.repeat(1494)}`);
    expect(text.length).toBe(2999);
    const over = toSlackMessage({ kind: 'status', title: 'T', lines: ['a'.repeat(1500), 'b'.repeat(1495)] }).blocks[0]!.text.text;
    expect(over).toBe(`*T*\n${'a'.repeat(1500)}\n… (cut)`);
  });

  it('Slack: a line that is not the last is kept only when the cut mark would still fit after it', () => {
    expect(toSlackMessage({ kind: 'status', title: 'T', lines: ['a'.repeat(2983), 'b'] }).blocks[0]!.text.text).toBe(`*T*\n${'a'.repeat(2983)}\nb`);
    expect(toSlackMessage({ kind: 'status', title: 'T', lines: ['a'.repeat(2984), 'b'] }).blocks[0]!.text.text).toBe('*T*\n… (cut)');
  });

  it('Slack: a code block leaves room for its fences (8 characters)', () => {
    expect(toSlackMessage({ kind: 'plan', title: 'T', lines: ['a'.repeat(2987)] }).blocks[0]!.text.text).toBe(`*T*\n\`\`\`\n${'a'.repeat(2987)}\n\`\`\``);
    expect(toSlackMessage({ kind: 'plan', title: 'T', lines: ['a'.repeat(2988)] }).blocks[0]!.text.text).toBe('*T*\n```\n… (cut)\n```');
  });

  it('Teams: bold title, paragraphs, markdown and HTML in user text escaped', () => {
    expect(toTeamsMessage({ kind: 'error', title: 'Refused: A_B', lines: ['a*b_c `d` [e](f) #g \\h <i> & j'] })).toEqual({
      type: 'message',
      text: '**Refused: A\\_B**\n\na\\*b\\_c \\`d\\` \\[e\\](f) \\#g \\\\h &lt;i&gt; &amp; j',
    });
  });

  it('Teams: up to 20,000 characters whole; longer is cut with a mark', () => {
    const title = '**T**\n\n';
    const whole = toTeamsMessage({ kind: 'status', title: 'T', lines: ['x'.repeat(20_000 - title.length)] }).text;
    expect(whole.length).toBe(20_000);
    expect(whole.endsWith('x')).toBe(true);
    const cut = toTeamsMessage({ kind: 'status', title: 'T', lines: ['x'.repeat(20_001 - title.length)] }).text;
    expect(cut).toBe(`${`${title}${'x'.repeat(20_001 - title.length)}`.slice(0, 19_980)}\n… (cut)`);
  });
});
