/**
 * One answer in chat (issue 10.5), on the twin with Slack's stand-in: a response_url takes 5 posts within 30
 * minutes. A chat request over more beacons than that gets one progress reply when its rollout starts and
 * one summary when it ends; per-beacon outcomes go to the notification topic, marked kind=beacon.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadFleet } from '../../local/fleet.js';
import { syntheticBeacons, syntheticExecutor, syntheticFnmsBeacons, writeSyntheticFleet } from '../../local/synthetic-fleet.js';
import { LocalTwin } from '../../local/twin.js';
import { SECRET_ARN } from '../support/requests.js';

const BEACONS = syntheticBeacons(7);
const FAILING = BEACONS[3]!.instanceId;

describe('a Slack request over seven beacons', () => {
  let twin: LocalTwin;
  let responseUrl: string;
  const requestId = 'chat-seven';

  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'beacon-proxy-chat-'));
    writeSyntheticFleet(dir, BEACONS);
    twin = await LocalTwin.create({
      fleet: await loadFleet(dir),
      workDir: join(dir, 'work'),
      msPerSecond: 20,
      executor: syntheticExecutor({ latencyMs: 20, fails: (beacon) => beacon.instanceId === FAILING }),
      // FNMS's beacon report lists the fleet (the pin is never decided against an empty inventory).
      fnms: { state: { approvedVersion: '13.2.0', availableVersions: ['13.2.0'], beacons: syntheticFnmsBeacons(BEACONS) } },
    });
    responseUrl = twin.slack.issueResponseUrl();
    twin.submit(
      {
        requestId,
        target: { instanceIds: BEACONS.map((b) => b.instanceId) },
        protocol: 'https',
        proxy: 'proxy.corp.example:8080',
        account: { kind: 'domain', name: 'CORP\\svc-beacon', passwordSecretArn: SECRET_ARN },
      },
      { source: 'chatops', replyTo: { kind: 'slack', responseUrl } },
    );
    await twin.drain();
  }, 120_000);

  afterAll(async () => {
    await twin?.stop();
  });

  it('posts one progress reply and one final summary on the response_url, and nothing Slack refuses', () => {
    const posts = twin.slack.posts.filter((post) => post.target === new URL(responseUrl).pathname);
    expect(posts.filter((post) => !post.accepted)).toEqual([]);
    expect(posts.map((post) => post.text.split('\n')[0])).toEqual([expect.stringMatching(/started/i), expect.stringMatching(/finished|completed/i)]);
  });

  it('the summary counts by outcome, names the failed beacon with its reason and links the status', () => {
    const summary = twin.slack.accepted(responseUrl).at(-1)!.text;
    expect(summary).toMatch(/6 ok/);
    expect(summary).toMatch(/1 rolled back/);
    expect(summary).toContain(FAILING);
    expect(summary).toContain('SERVICE_START_FAILED');
    expect(summary).toMatch(new RegExp(`status ${requestId}`));
  });

  it('every beacon outcome still reaches the notification topic, marked kind=beacon; the request start and its one summary are kind=request', () => {
    const beacons = twin.published.filter((message) => message.attributes.kind === 'beacon');
    expect(beacons.map((message) => message.message.instanceId).sort()).toEqual(BEACONS.map((b) => b.instanceId).sort());
    const request = twin.published.filter((message) => message.attributes.kind === 'request' && message.message.requestId === requestId);
    expect(request.map((message) => message.attributes.event)).toEqual(['started', 'summary']);
  });
});
