import { describe, expect, it } from 'vitest';
import { type RunReport, renderHtml, renderTable } from '../../local/report.js';

const report: RunReport = {
  tool: 'beacon-proxy local twin',
  startedAt: '2026-11-27T10:00:00.000Z',
  finishedAt: '2026-11-27T10:00:30.000Z',
  dryRun: false,
  fleetDir: '/tmp/fleet',
  beacons: [
    { instanceId: 'i-1', computerName: 'B1', requestId: 'r', outcome: 'ok', changed: ['registry:Common\\https_proxy'], failedChecks: [], failedCheckNames: [], beaconVersion: '13.2.0', pinnedVersion: '13.2.0', reasons: [], warnings: [], requestedBy: 'Slack T0001/U123 (<alice>)' },
    { instanceId: 'i-2', computerName: 'B2<script>', requestId: 'r', outcome: 'rolled-back', changed: ['x'], failedChecks: [], failedCheckNames: [], beaconVersion: null, pinnedVersion: null, reasons: ['service: <b>failed</b> & gone'], warnings: [] },
    { instanceId: 'i-3', computerName: 'B3', requestId: 'r', outcome: 'ok', changed: [], failedChecks: [], failedCheckNames: [], beaconVersion: '13.2.0', pinnedVersion: null, reasons: [], warnings: ['FNMS beacon version not pinned (pinMode none)'] },
  ],
  refused: [{ requestId: 'bad', source: 'local', error: { code: 'PAC_UNSUPPORTED', message: 'no PAC', field: 'proxy' }, requestedBy: 'SQS sender AIDATWINQUEUEOPERATOR' }],
  fnms: { approvedVersion: '13.2.0', writes: 1 },
};

describe('the run report', () => {
  it('the table has one row per beacon, the refused requests and a summary', () => {
    const table = renderTable(report);
    expect(table).toMatch(/B1 \(i-1\)\s+OK\s+1\s+0\s+13\.2\.0/);
    expect(table).toMatch(/ROLLED BACK\s+-/);
    expect(table).toContain('refused request bad from local: PAC_UNSUPPORTED at proxy: no PAC');
    expect(table).toContain('3 beacon(s): 2 ok, 1 rolled back; FNMS approved version: 13.2.0');
    expect(table).toMatch(/B3 \(i-3\)\s+OK\s+0\s+0\s+-\s+warning: FNMS beacon version not pinned \(pinMode none\)/);
  });

  it('a dry run\'s table says what a run would change on each beacon', () => {
    const plan: RunReport = {
      ...report,
      dryRun: true,
      beacons: [{ ...report.beacons[0]!, outcome: 'dry-run', changed: [], failedChecks: ['a: x', 'b: y'], failedCheckNames: ['registry:Common\\https_proxy', 'service:logon'] }],
    };
    const table = renderTable(plan);
    expect(table).toContain('WOULD CHANGE');
    expect(table).toMatch(/PLAN\s+-\s+2\s+13\.2\.0\s+would change: registry:Common\\https_proxy, service:logon/);
  });

  it('the HTML page escapes every value and runs no script', () => {
    const html = renderHtml(report);
    expect(html).not.toContain('<script>');
    expect(html).toContain('B2&lt;script&gt;');
    expect(html).toContain('service: &lt;b&gt;failed&lt;/b&gt; &amp; gone');
    expect(html).toContain('PAC_UNSUPPORTED');
  });

  it('the HTML page says who asked for each beacon\'s request and for each refused request (escaped)', () => {
    const html = renderHtml(report);
    expect(html).toContain('<th>Request, requested by</th>');
    expect(html).toContain('<td>r<br><small>Slack T0001/U123 (&lt;alice&gt;)</small></td>');
    expect(html).toContain('<td>r<br><small>unknown caller</small></td>');
    expect(html).toContain('(local, requested by SQS sender AIDATWINQUEUEOPERATOR)');
  });
});
