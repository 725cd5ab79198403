import { describe, expect, it } from 'vitest';
import { pinOutcome, renderChanges, renderHtml, renderTable } from '../../local/report.js';
import { PLAN, REPORT } from '../support/report-fixtures.js';

describe('the run report', () => {
  it('the table has one row per beacon, the refused requests and a summary', () => {
    const table = renderTable(REPORT);
    expect(table).toMatch(/B1 \(i-1\)\s+OK\s+2\s+0\s+13\.2\.0/);
    expect(table).toMatch(/ROLLED BACK\s+-/);
    expect(table).toContain('refused request bad from local: PAC_UNSUPPORTED at proxy: no PAC');
    expect(table).toContain('4 beacon(s): 2 ok, 1 rolled back, 1 skipped; FNMS approved version: "Always use the latest version" -> 13.2.0 (pinned by this run, 1 write(s))');
    expect(table).toMatch(/B3 \(i-3\)\s+OK\s+0\s+0\s+-\s+warning: FNMS beacon version not pinned \(pinMode none\)/);
  });

  it("a dry run's table says what a run would change on each beacon", () => {
    const table = renderTable(PLAN);
    expect(table).toContain('WOULD CHANGE');
    expect(table).toMatch(/PLAN\s+-\s+2\s+-\s+would change: registry:Common\\https_proxy, service:logon/);
    expect(table).toMatch(/B5 \(i-5\)\s+PLAN\s+-\s+0\s+-\s+no change: already as requested/);
    expect(table).toContain('2 beacon(s): 1 would change, 1 no change; FNMS approved version: "Always use the latest version" (not touched: dry run)');
  });

  it('--diff: every beacon with its changes as id: before -> after, a rollback with what it restored', () => {
    const text = renderChanges(REPORT);
    expect(text).toContain('Changes (before -> after):\nB1 (i-1): ok, changed 2 value(s):\n  registry:Common\\https_proxy: absent -> REG_SZ https://proxy.corp.example:8080\n  service:logon: NT AUTHORITY\\SYSTEM -> CORP\\svc-beacon\n');
    expect(text).toContain('B2<script> (i-2): rolled-back: service: <b>failed</b> & gone\n  changed, then undone by the rollback:\n');
    expect(text).toContain('  restored by the rollback:\n    service:logon: CORP\\svc-beacon -> NT AUTHORITY\\SYSTEM\n');
    expect(text).toContain('B3 (i-3): ok, no change (already as requested)');
    expect(text).toContain('B4 (i-4): skipped (offline: SSM Agent ping status is ConnectionLost); nothing changed');
  });

  it('a plan reads like terraform plan: current -> wanted per value, "no change" for a beacon already right', () => {
    expect(renderChanges(PLAN)).toBe(
      'Plan (current -> wanted):\n' +
        'B1 (i-1): would change 2 value(s), current -> wanted:\n' +
        '  registry:Common\\https_proxy: absent -> REG_SZ https://proxy.corp.example:8080\n' +
        '  service:logon: NT AUTHORITY\\SYSTEM -> CORP\\svc-beacon\n' +
        'B5 (i-5): no change (already as requested)\n',
    );
  });

  it('the FNMS pin outcome: what the approved version was and became, or that a plan did not touch it', () => {
    expect(pinOutcome(REPORT)).toBe('"Always use the latest version" -> 13.2.0 (pinned by this run, 1 write(s))');
    expect(pinOutcome(PLAN)).toBe('"Always use the latest version" (not touched: dry run)');
    expect(pinOutcome({ ...REPORT, fnms: { approvedVersion: '13.2.0', approvedBefore: '13.2.0', writes: 0 } })).toBe('13.2.0 (already approved, nothing written)');
  });

  it('the HTML page: counts and the pin outcome at the top, a before/after table per beacon, every value escaped, no script', () => {
    const html = renderHtml(REPORT);
    expect(html).not.toContain('<script>');
    expect(html).toContain("script-src 'none'");
    expect(html).toContain('B2&lt;script&gt;');
    expect(html).toContain('service: &lt;b&gt;failed&lt;/b&gt; &amp; gone');
    expect(html).toContain('PAC_UNSUPPORTED');
    expect(html).toMatch(/<li class="ok" data-group="ok"><b>2<\/b> ok<\/li><li class="rolled-back" data-group="rolled back"><b>1<\/b> rolled back<\/li><li class="failed" data-group="failed"><b>0<\/b> failed<\/li><li class="skipped" data-group="skipped"><b>1<\/b> skipped<\/li>/);
    expect(html).toContain('&quot;Always use the latest version&quot; -&gt; 13.2.0 (pinned by this run, 1 write(s))');
    expect(html).toContain('<caption>Changed, then undone by the rollback</caption>');
    expect(html).toContain('<caption>Restored by the rollback</caption>');
    expect(html).toContain('<tr><th scope="row">service:logon</th><td>NT AUTHORITY\\SYSTEM</td><td>CORP\\svc-beacon</td></tr>');
    expect(html).toContain('No change: the beacon is already as requested.');
  });

  it('the HTML plan shows what would change, current and wanted', () => {
    const html = renderHtml(PLAN);
    expect(html).toContain('<caption>What a run would change</caption>');
    expect(html).toContain('<th>Current</th><th>Wanted</th>');
    expect(html).toMatch(/<b>1<\/b> would change<\/li><li class="no-change" data-group="no change"><b>1<\/b> no change/);
  });

  it('the HTML page says who asked for each beacon\'s request and for each refused request (escaped)', () => {
    const report = { ...REPORT, beacons: REPORT.beacons.map((b, i) => (i === 0 ? { ...b, requestedBy: 'Slack T0001/U123 (<alice>)' } : b)), refused: REPORT.refused.map((r) => ({ ...r, requestedBy: 'SQS sender AIDATWINQUEUEOPERATOR' })) };
    const html = renderHtml(report);
    expect(html).toContain('<th>Request, requested by</th>');
    expect(html).toContain('<td>r<br><small>Slack T0001/U123 (&lt;alice&gt;)</small></td>');
    expect(html).toContain('<td>r<br><small>unknown caller</small></td>');
    expect(html).toContain('(local, requested by SQS sender AIDATWINQUEUEOPERATOR)');
  });
});
